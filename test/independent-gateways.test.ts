import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { type StartedGateway, spawnGateway } from "./support/gateway-process.js";
import { TestRedisCluster } from "./support/redis-cluster.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const GATEWAYS = 3;
const SUBJECTS = ["alpha", "beta", "gamma", "delta"];
const PER_PUBLISHER = 25;

/**
 * Three gateway processes (not node:cluster workers: separate `main.ts`
 * processes, as three hosts would run them) on one Redis, then on one Redis
 * Cluster: one id sequence per subject, every publish seen by every
 * subscriber on every gateway in order, idempotency across gateways.
 */
for (const storage of ["one Redis", "a Redis Cluster"] as const) {
  describe(`${GATEWAYS} independent gateway processes on ${storage}`, () => {
    const prefix = uniquePrefix("gateways");
    const gateways: StartedGateway[] = [];
    let cluster: TestRedisCluster | undefined;
    let clients: BrokerClient[] = [];

    before(async () => {
      const env: Record<string, string> = { REDIS_KEY_PREFIX: prefix };
      if (storage === "one Redis") env.REDIS_URL = REDIS_URL;
      else {
        cluster = await TestRedisCluster.start();
        env.REDIS_CLUSTER_NODES = cluster.nodesEnv;
      }
      // One at a time, so a failed start never leaks the others.
      for (let g = 0; g < GATEWAYS; g++) gateways.push(await spawnGateway(env));
      clients = gateways.map((gateway) => brokerClient(gateway, "grpc"));
    });

    after(async () => {
      await Promise.all(gateways.map((gateway) => gateway.process.stop()));
      if (cluster) await cluster.destroy();
      else await deleteGatewayKeys(REDIS_URL, prefix);
    });

    it("gives each subject one strictly increasing id sequence, and every subscriber on every gateway sees every publish in order", async () => {
      // Two subscribers per subject on each gateway.
      const subscriptions: { subject: string; gateway: number; subscription: TestSubscription }[] = [];
      for (const subject of SUBJECTS) {
        for (let g = 0; g < GATEWAYS; g++) {
          for (let n = 0; n < 2; n++) {
            subscriptions.push({
              subject,
              gateway: g,
              subscription: await subscribeLive(clients[g] as BrokerClient, subject),
            });
          }
        }
      }
      try {
        // Every gateway publishes to every subject at once, each publisher in sequence.
        const acked = new Map<string, Map<number, string>>(SUBJECTS.map((subject) => [subject, new Map()]));
        await Promise.all(
          SUBJECTS.flatMap((subject) =>
            clients.map(async (client, g) => {
              let previous = 0;
              for (let i = 0; i < PER_PUBLISHER; i++) {
                const body = `${subject}/g${g}/${i}`;
                const id = Number((await client.publish({ subject, body: bytes(body), expirationSeconds: 60 })).id);
                assert.ok(id > previous, `gateway ${g}, ${subject}: id ${id} after ${previous}`);
                previous = id;
                const ids = acked.get(subject) as Map<number, string>;
                assert.ok(!ids.has(id), `${subject}: id ${id} acknowledged twice`);
                ids.set(id, body);
              }
            }),
          ),
        );
        const total = GATEWAYS * PER_PUBLISHER;
        const oneToTotal = Array.from({ length: total }, (_, i) => i + 1);
        for (const subject of SUBJECTS) {
          const ids = acked.get(subject) as Map<number, string>;
          assert.deepEqual(
            [...ids.keys()].sort((a, b) => a - b),
            oneToTotal,
            `${subject}: ids 1..${total}`,
          );
        }
        for (const { subject, gateway, subscription } of subscriptions) {
          const got = await subscription.waitFor(total);
          assert.deepEqual(
            got.map((m) => Number(m.id)),
            oneToTotal,
            `${subject} subscriber on gateway ${gateway}`,
          );
          const ids = acked.get(subject) as Map<number, string>;
          for (const message of got) assert.equal(text(message.body), ids.get(Number(message.id)));
        }
      } finally {
        for (const { subscription } of subscriptions) subscription.close();
      }
    });

    it("answers an idempotency key retried through another gateway with the first id", async () => {
      const subject = "idempotent";
      const first = await (clients[0] as BrokerClient).publish({
        subject,
        body: bytes("once"),
        expirationSeconds: 60,
        idempotencyKey: "order-42",
      });
      for (const client of clients.slice(1)) {
        const retried = await client.publish({
          subject,
          body: bytes("once"),
          expirationSeconds: 60,
          idempotencyKey: "order-42",
        });
        assert.equal(retried.id, first.id);
      }
      const other = await (clients[2] as BrokerClient).publish({ subject, body: bytes("next"), expirationSeconds: 60 });
      assert.equal(Number(other.id), Number(first.id) + 1, "the retries stored nothing");
    });
  });
}
