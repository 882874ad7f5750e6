import { create } from "@bufbuild/protobuf";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  MessageResponseSchema,
  type PublishBatchRequest,
  PublishBatchResponseSchema,
  PublishResponseSchema,
} from "../../gateway/gen/broker/broker_pb.js";
import { brokerServiceDefinition } from "../../gateway/src/transports/grpc/service-definition.js";

/**
 * The RPC ceiling: a @grpc/grpc-js server answering the Broker service with
 * the gateway's own service definition (same codec path) and no work at all.
 * Publish returns a counter, Fetch a fixed 128-byte message, Subscribe sends
 * headers and idles. Started as a child process by the bench runner.
 */
let nextId = 0n;
const fixedMessage = create(MessageResponseSchema, {
  body: new Uint8Array(128),
  id: 1n,
  subject: "noop",
  publishedAtMs: BigInt(Date.now()),
});

const implementation: UntypedServiceImplementation = {
  publish(_call: unknown, callback: (err: null, res: unknown) => void) {
    nextId += 1n;
    callback(null, create(PublishResponseSchema, { id: nextId }));
  },
  publishBatch(call: { request: PublishBatchRequest }, callback: (err: null, res: unknown) => void) {
    const ids = call.request.messages.map(() => {
      nextId += 1n;
      return nextId;
    });
    callback(null, create(PublishBatchResponseSchema, { ids }));
  },
  fetch(_call: unknown, callback: (err: null, res: unknown) => void) {
    callback(null, fixedMessage);
  },
  subscribe(call: ServerWritableStream<unknown, unknown>) {
    // Live at once; nothing is ever published here.
    call.sendMetadata(new Metadata());
  },
};

const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
server.addService(brokerServiceDefinition, implementation);
server.bindAsync(`127.0.0.1:${process.env.GRPC_PORT ?? "0"}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`noop server failed to bind: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: "noop listening", grpcPort: port })}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
