import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type ServerWritableStream } from "@grpc/grpc-js";
import { type MessageResponse, MessageResponseSchema } from "../gateway/gen/broker/broker_pb.js";
import { findCallBeneath } from "../gateway/src/patches/grpc-js-server-call.js";
import { messageWriter } from "../gateway/src/transports/grpc/message-writer.js";
import { brokerServiceDefinition } from "../gateway/src/transports/grpc/service-definition.js";
import { brokerClient } from "./support/clients.js";

const COUNT = 2_000;
const BODY = new Uint8Array(1024).fill(7);

describe("MessageWriter on a grpc-js server stream", () => {
  let server: Server;
  let port: number;
  const seen: { direct: boolean; waits: number }[] = [];

  before(async () => {
    server = new Server();
    server.addService(brokerServiceDefinition, {
      subscribe(call: ServerWritableStream<unknown, MessageResponse>) {
        const writer = messageWriter(call, (message) => message.body.byteLength);
        const record = { direct: findCallBeneath(call) !== undefined, waits: 0 };
        seen.push(record);
        let next = 1;
        const pump = () => {
          while (next <= COUNT) {
            const message = create(MessageResponseSchema, { id: BigInt(next), subject: "w", body: BODY });
            next += 1;
            if (!writer.write(message)) {
              record.waits += 1;
              return;
            }
          }
          call.end();
        };
        writer.onDrain(pump);
        pump();
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  });

  after(() => {
    server.forceShutdown();
  });

  it("writes beneath the stream's Writable on this grpc-js (an upgrade that hides it fails here)", async () => {
    const client = brokerClient({ grpcPort: port, httpPort: 0 }, "grpc");
    for await (const _ of client.subscribe({ subject: "w" })) break;
    assert.equal(seen.at(-1)?.direct, true);
  });

  it("delivers every message in order and then ends the stream, waiting whenever too many are in flight", async () => {
    const client = brokerClient({ grpcPort: port, httpPort: 0 }, "grpc");
    const ids: number[] = [];
    for await (const message of client.subscribe({ subject: "w" })) {
      ids.push(Number(message.id));
      assert.equal(message.body.byteLength, BODY.byteLength);
    }
    assert.deepEqual(
      ids,
      Array.from({ length: COUNT }, (_, i) => i + 1),
    );
    assert.ok((seen.at(-1)?.waits ?? 0) > 0, "the writer asked the handler to wait at least once");
  });
});
