import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, subscribeLive } from "./support/streams.js";

describe("Redis losing its data under a live subscription", () => {
  let redis: PrivateRedis;
  let client: BrokerClient;
  let stop: () => Promise<void>;
  before(async () => {
    redis = await PrivateRedis.start({ appendonly: false });
    const started = await startGateway("redis", { redisUrl: redis.url });
    stop = started.stop;
    client = brokerClient(started.gateway, "grpc");
  });
  after(async () => {
    await stop();
    await redis.destroy();
  });

  it("ends the stream with DATA_LOSS instead of silently skipping reused ids", async () => {
    const subject = "lost";
    const subscription = await subscribeLive(client, subject);
    for (let i = 1; i <= 5; i++) await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: 60 });
    await subscription.waitFor(5);
    // A restart without persistence: the stream is gone, and ids start again at 1.
    await redis.stopServer();
    await redis.startServer();
    const ended = (await Promise.race([
      subscription.finished,
      new Promise((resolve) => setTimeout(() => resolve("still open"), 10_000)),
    ])) as unknown;
    assert.ok(ended instanceof ConnectError, `the stream ended with an error, got ${String(ended)}`);
    assert.equal(Code[ended.code], "DataLoss");
    assert.match(ended.rawMessage, /lost messages of subject 'lost' after id 0/);
    assert.equal(subscription.received.length, 5, "nothing from the new stream was passed off as a continuation");
    // A new subscription works with the new stream.
    const again = await subscribeLive(client, subject);
    try {
      const { id } = await client.publish({ subject, body: bytes("after"), expirationSeconds: 60 });
      const [first] = await again.waitFor(1);
      assert.equal(first?.id, id);
    } finally {
      again.close();
    }
  });
});
