import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, subscribeLive, text } from "./support/streams.js";

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

  it("continues the ids above those it gave out: no id is reused, and a resume across the loss gets a Gap marker", async () => {
    const subject = "lost";
    const subscription = await subscribeLive(client, subject);
    for (let i = 1; i <= 5; i++) await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: 60 });
    await subscription.waitFor(5);
    // A restart without persistence: the stream is gone; Redis alone would start again at 1.
    await redis.stopServer();
    await redis.startServer();
    const { id } = await publishWhenBack(client, subject, "after");
    assert.equal(id, 6n, "the next id continues above the 5 ids already given out");
    const received = await subscription.waitFor(6);
    assert.deepEqual(
      received.map((m) => [Number(m.id), text(m.body)]),
      [1, 2, 3, 4, 5, 6].map((n) => [n, n === 6 ? "after" : `m${n}`]),
      "the live subscription went on with nothing reused",
    );
    subscription.close();
    // Ids 3..5 are gone with Redis's data: a resume after 2 is told so, then continues.
    const resumed = client.subscribe({ subject, resumeAfterId: 2n }, { timeoutMs: 5_000 });
    const [gap, next] = await first(resumed, 2);
    assert.deepEqual([Number(gap?.gap?.firstId), Number(gap?.gap?.lastId)], [3, 5]);
    assert.equal(Number(next?.id), 6);
    await assert.rejects(client.fetch({ subject, id: 4n }), (err: ConnectError) => err.code === Code.InvalidArgument);
  });
});

/** Publishes once Redis answers again (the first calls after the restart may see it down). */
async function publishWhenBack(client: BrokerClient, subject: string, body: string) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.publish({ subject, body: bytes(body), expirationSeconds: 60 });
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code !== Code.Unavailable || attempt > 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function first<T>(stream: AsyncIterable<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) {
    out.push(item);
    if (out.length === count) break;
  }
  return out;
}
