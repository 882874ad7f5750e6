import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { ENGINES, startGateway } from "./support/gateway.js";
import { spawnGateway } from "./support/gateway-process.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes, sleep, text } from "./support/streams.js";

const unknownId = (err: unknown) => err instanceof ConnectError && /unknown id/.test(err.rawMessage);

for (const engine of ENGINES) {
  describe(`idempotent publish on the ${engine} engine`, () => {
    let stop: () => Promise<void>;
    let client: BrokerClient;
    before(async () => {
      const started = await startGateway(engine, { idempotencyWindowSeconds: 1 });
      stop = started.stop;
      client = brokerClient(started.gateway, "grpc");
    });
    after(() => stop());

    it("answers a retry with the same key with the original id and publishes nothing", async () => {
      const subject = "once";
      const first = await client.publish({ subject, body: bytes("a"), expirationSeconds: 60, idempotencyKey: "k1" });
      const retry = await client.publish({ subject, body: bytes("a"), expirationSeconds: 60, idempotencyKey: "k1" });
      assert.equal(retry.id, first.id);
      await assert.rejects(client.fetch({ subject, id: first.id + 1n }), unknownId);
      assert.equal(text((await client.fetch({ subject, id: first.id })).body), "a");
    });

    it("keeps keys apart per subject and per key", async () => {
      const a = await client.publish({ subject: "s1", body: bytes("x"), expirationSeconds: 60, idempotencyKey: "k" });
      const b = await client.publish({ subject: "s2", body: bytes("x"), expirationSeconds: 60, idempotencyKey: "k" });
      const c = await client.publish({ subject: "s1", body: bytes("y"), expirationSeconds: 60, idempotencyKey: "k2" });
      assert.deepEqual([a.id, b.id, c.id], [1n, 1n, 2n]);
    });

    it("publishes again once the window has passed", async () => {
      const subject = "window";
      const first = await client.publish({ subject, body: bytes("a"), expirationSeconds: 60, idempotencyKey: "w" });
      await sleep(1_200);
      const later = await client.publish({ subject, body: bytes("a"), expirationSeconds: 60, idempotencyKey: "w" });
      assert.equal(later.id, first.id + 1n);
    });

    it("refuses keys in PublishBatch and over-long keys", async () => {
      await assert.rejects(
        client.publishBatch({
          messages: [{ subject: "b", body: bytes("x"), expirationSeconds: 1, idempotencyKey: "k" }],
        }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === Code.InvalidArgument && /Publish only/.test(err.rawMessage),
      );
      await assert.rejects(
        client.publish({ subject: "b", body: bytes("x"), expirationSeconds: 1, idempotencyKey: "k".repeat(257) }),
        (err: unknown) => err instanceof ConnectError && /idempotencyKey is 257 bytes/.test(err.rawMessage),
      );
    });
  });
}

describe("idempotent publish across two gateway processes on one Redis", () => {
  it("publishes once when the same retries race through both", async () => {
    const prefix = uniquePrefix("idempotent-race");
    const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
    const one = await spawnGateway(env);
    try {
      const two = await spawnGateway(env);
      try {
        const clients = [brokerClient(one, "grpc"), brokerClient(two, "connect")];
        const subject = "race";
        for (let round = 0; round < 20; round++) {
          const idempotencyKey = `key-${round}`;
          const replies = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              (clients[i % 2] as BrokerClient).publish({
                subject,
                body: bytes(`r${round}`),
                expirationSeconds: 60,
                idempotencyKey,
              }),
            ),
          );
          assert.equal(new Set(replies.map((r) => r.id)).size, 1, `round ${round}: one id for all retries`);
          assert.equal(replies[0]?.id, BigInt(round + 1));
        }
        await assert.rejects(clients[0]?.fetch({ subject, id: 21n }) ?? Promise.resolve(), unknownId);
      } finally {
        await two.process.stop();
      }
    } finally {
      await one.process.stop();
      await deleteGatewayKeys(REDIS_URL, prefix);
    }
  });
});
