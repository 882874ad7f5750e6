import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { acceptedConnections, type StartedGateway, spawnGateway } from "./support/gateway-process.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const WORKERS = 2;
const READERS = 2;
const SUBJECTS = 200;
const CONNECTIONS = 8;
const ROUTES: readonly Route[] = ["grpc", "connect-h2c"];

/** Client connections on the private Redis per connection name (the test's own excluded). */
async function clientsByName(inspector: Redis): Promise<Record<string, number>> {
  const list = (await inspector.client("LIST")) as string;
  const counts: Record<string, number> = {};
  for (const line of list.trim().split("\n")) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "";
    if (name === "test-inspector") continue;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe("Redis connections per gateway process", () => {
  let redis: PrivateRedis;
  let inspector: Redis;
  let gateway: StartedGateway;
  before(async () => {
    // A Redis of its own, so CLIENT LIST shows this gateway's connections only.
    redis = await PrivateRedis.start();
    inspector = redis.connect();
    gateway = await spawnGateway({ REDIS_URL: redis.url, REDIS_READERS: String(READERS) }, WORKERS);
  });
  after(async () => {
    await gateway?.process.stop();
    inspector?.disconnect();
    await redis?.destroy();
  });

  it("stay at one command connection plus REDIS_READERS readers per process, however many subjects are subscribed", async (t) => {
    const expected = {
      "broker-commands": WORKERS,
      ...Object.fromEntries(Array.from({ length: READERS }, (_, i) => [`broker-reader-${i}`, WORKERS])),
    };
    assert.deepEqual(await clientsByName(inspector), expected, "before any subscription");

    const clients: BrokerClient[] = Array.from({ length: CONNECTIONS }, (_, c) =>
      brokerClient(gateway, ROUTES[c % ROUTES.length]),
    );
    const subscriptions: TestSubscription[] = [];
    try {
      // Two subscribers per subject on different connections (so usually different workers).
      await Promise.all(
        Array.from({ length: SUBJECTS * 2 }, async (_, n) => {
          const client = clients[n % CONNECTIONS] as BrokerClient;
          subscriptions[n] = await subscribeLive(client, `subject-${n % SUBJECTS}`);
        }),
      );
      const perWorker = gateway.servingPids.map(
        (pid) => acceptedConnections(pid, gateway.grpcPort) + acceptedConnections(pid, gateway.httpPort),
      );
      assert.ok(
        perWorker.every((count) => count > 0),
        `both workers serve streams: ${perWorker}`,
      );
      assert.deepEqual(
        await clientsByName(inspector),
        expected,
        `with ${SUBJECTS * 2} streams on ${SUBJECTS} subjects`,
      );

      // And every one of them is served by those few connections.
      const publisher = clients[0] as BrokerClient;
      await Promise.all(
        Array.from({ length: SUBJECTS }, (_, s) =>
          publisher.publish({ subject: `subject-${s}`, body: bytes(`hello ${s}`), expirationSeconds: 0 }),
        ),
      );
      for (const [n, subscription] of subscriptions.entries()) {
        const [message] = await subscription.waitFor(1);
        assert.equal(text(message?.body ?? new Uint8Array()), `hello ${n % SUBJECTS}`);
      }
      t.diagnostic(`CLIENT LIST: ${JSON.stringify(await clientsByName(inspector))}`);
    } finally {
      for (const subscription of subscriptions) subscription?.close();
    }
  });
});
