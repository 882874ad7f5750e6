import { create } from "@bufbuild/protobuf";
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { collectDefaultMetrics, Registry } from "prom-client";
import {
  type MessageResponse,
  MessageResponseSchema,
  type PublishBatchRequest,
  PublishBatchResponseSchema,
  type PublishRequest,
  PublishResponseSchema,
  type SubscribeRequest,
} from "../../gateway/gen/broker/broker_pb.js";
import { loadConfig } from "../../gateway/src/config.js";
import { setHeapGrowingPercent } from "../../gateway/src/heap-growth.js";
import { useYoungStreamTablesOnGrpcServer } from "../../gateway/src/patches/grpc-js-http2-servers.js";
import { registrySource, serveMetrics } from "../../gateway/src/process/metrics-server.js";
import { brokerServiceDefinition } from "../../gateway/src/transports/grpc/service-definition.js";

/**
 * The RPC ceiling: a @grpc/grpc-js server answering the Broker service with
 * the gateway's own service definition (same codec path) and no work at all.
 * Publish returns a counter, Fetch a fixed 128-byte message. Subscribe sends
 * headers, and a Publish to a subject someone subscribes to is written to
 * those streams at once (no storage, no fan-out machinery): the delivery
 * ceiling of the same client over the same gRPC stack, which includes the
 * gateway's HTTP/2 stream tables (grpc-stream-tables.ts): without them a
 * plain grpc-js server promotes its finished calls, and the gateway would be
 * measured against a floor slower than its own transport. Like the gateway it
 * serves prom-client's default process metrics (the bench reads GC pauses
 * there), so both carry the same collectors, and it lets V8 grow its heap as
 * the gateway does (HEAP_GROWING_PERCENT, heap-growth.ts), so the floor's GC
 * pauses are not set differently. Started as a child process by the bench
 * runner.
 */
let nextId = 0n;
const subscribers = new Map<string, Set<ServerWritableStream<SubscribeRequest, MessageResponse>>>();
const fixedMessage = create(MessageResponseSchema, {
  body: new Uint8Array(128),
  id: 1n,
  subject: "noop",
  publishedAtMs: BigInt(Date.now()),
});

const implementation: UntypedServiceImplementation = {
  publish(call: { request: PublishRequest }, callback: (err: null, res: unknown) => void) {
    nextId += 1n;
    const { subject, body } = call.request;
    const streams = subscribers.get(subject);
    if (streams) {
      const message = create(MessageResponseSchema, { body, id: nextId, subject, publishedAtMs: BigInt(Date.now()) });
      for (const stream of streams) stream.write(message);
    }
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
  subscribe(call: ServerWritableStream<SubscribeRequest, MessageResponse>) {
    const { subject } = call.request;
    let streams = subscribers.get(subject);
    if (!streams) {
      streams = new Set();
      subscribers.set(subject, streams);
    }
    streams.add(call);
    const remove = () => {
      streams.delete(call);
      if (streams.size === 0 && subscribers.get(subject) === streams) subscribers.delete(subject);
    };
    call.once("cancelled", remove);
    call.once("close", remove);
    // Live at once.
    call.sendMetadata(new Metadata());
  },
};

setHeapGrowingPercent(loadConfig().heapGrowingPercent);
const server = new Server({ "grpc.max_receive_message_length": 64 * 1024 * 1024 });
server.addService(brokerServiceDefinition, implementation);
const registry = new Registry();
collectDefaultMetrics({ register: registry });
const metrics = await serveMetrics(registrySource(registry), 0, "127.0.0.1");
server.bindAsync(`127.0.0.1:${process.env.GRPC_PORT ?? "0"}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`noop server failed to bind: ${err.message}\n`);
    process.exit(1);
  }
  useYoungStreamTablesOnGrpcServer(server);
  process.stdout.write(`${JSON.stringify({ msg: "noop listening", grpcPort: port, metricsPort: metrics.port })}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
