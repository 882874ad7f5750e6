import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Ports, type Route } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const ROUTES: readonly Route[] = ["grpc", "connect", "connect-h2c", "grpc-web"];
/** A call while Redis is down must fail at least this fast (no hanging on a dead connection). */
const FAIL_FAST_MS = 1_000;
const RECOVERY_DEADLINE_MS = 10_000;

async function failsFastWithUnavailable(what: string, call: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await assert.rejects(call(), (err: unknown) => {
    assert.ok(err instanceof ConnectError, `${what}: ${String(err)}`);
    assert.equal(Code[err.code], "Unavailable", `${what}: ${err.message}`);
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed < FAIL_FAST_MS, `${what} took ${elapsed} ms to fail`);
  return elapsed;
}

describe("Redis restarted under a live subscription", () => {
  let redis: PrivateRedis;
  let ports: Ports;
  let stop: () => Promise<void>;
  before(async () => {
    redis = await PrivateRedis.start({ appendonly: true });
    const started = await startGateway("redis", { redisUrl: redis.url });
    ports = started.gateway;
    stop = started.stop;
  });
  after(async () => {
    await stop?.();
    await redis?.destroy();
  });

  it("fails calls fast with UNAVAILABLE while it is down, then recovers and the subscription continues without loss or duplicates", async (t) => {
    const subject = "through-a-restart";
    const publisher: BrokerClient = brokerClient(ports, "grpc");
    const subscriptions: TestSubscription[] = await Promise.all(
      ROUTES.map((route) => subscribeLive(brokerClient(ports, route), subject)),
    );
    const acked = new Map<number, string>();
    const publish = async (body: string) => {
      const { id } = await publisher.publish({ subject, body: bytes(body), expirationSeconds: 300 });
      assert.ok(!acked.has(Number(id)), `id ${id} acknowledged twice`);
      acked.set(Number(id), body);
    };
    try {
      for (let i = 1; i <= 10; i++) await publish(`before-${i}`);
      for (const subscription of subscriptions) await subscription.waitFor(10);

      await redis.stopServer();
      const clients = ROUTES.map((route) => brokerClient(ports, route));
      const timings: number[] = [];
      for (const [n, client] of clients.entries()) {
        const route = ROUTES[n];
        timings.push(
          await failsFastWithUnavailable(`publish over ${route}`, () =>
            client.publish({ subject, body: bytes("lost"), expirationSeconds: 300 }),
          ),
          await failsFastWithUnavailable(`fetch over ${route}`, () => client.fetch({ subject, id: 1n })),
          await failsFastWithUnavailable(`subscribe over ${route}`, async () => {
            for await (const _ of client.subscribe({ subject })) break;
          }),
        );
      }
      t.diagnostic(`calls failed with UNAVAILABLE after at most ${Math.max(...timings)} ms while Redis was down`);
      // The open subscriptions wait for Redis rather than ending.
      for (const subscription of subscriptions) {
        assert.equal(await Promise.race([subscription.finished.then(() => "ended"), Promise.resolve("open")]), "open");
      }

      await redis.startServer();
      const restarted = Date.now();
      for (;;) {
        try {
          await publish("after-1");
          break;
        } catch (err) {
          assert.equal(err instanceof ConnectError && Code[err.code], "Unavailable", String(err));
          assert.ok(Date.now() - restarted < RECOVERY_DEADLINE_MS, "the gateway did not recover");
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      t.diagnostic(`first publish succeeded ${Date.now() - restarted} ms after Redis was back`);
      for (let i = 2; i <= 10; i++) await publish(`after-${i}`);

      // Nothing published before the restart was lost (append-only file), ids continue.
      assert.deepEqual(
        [...acked.keys()],
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      assert.equal(text((await publisher.fetch({ subject, id: 5n })).body), "before-5");
      for (const [n, subscription] of subscriptions.entries()) {
        const got = await subscription.waitFor(20);
        assert.deepEqual(
          got.map((m) => [Number(m.id), text(m.body)]),
          [...acked.entries()],
          `subscriber over ${ROUTES[n]}`,
        );
      }
      // ...and nothing more arrives (no duplicates delivered late).
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const subscription of subscriptions) assert.equal(subscription.received.length, 20);
    } finally {
      for (const subscription of subscriptions) subscription.close();
    }
  });
});
