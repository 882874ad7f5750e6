import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { loadConfig } from "../gateway/src/config.js";
import { Gateway } from "../gateway/src/gateway.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { httpStatus } from "./support/health-client.js";
import { eventually } from "./support/node-process.js";
import { TestRedisCluster } from "./support/redis-cluster.js";
import { bytes, sleep, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const PREFIX = "failover:";
const keys = new RedisKeys(PREFIX);
/** One subject per partition: every master serves some of them. */
const SUBJECTS = Array.from({ length: keys.partitions }, (_, p) => {
  for (let n = 0; ; n++) if (keys.partitionOf(`s${n}`) === p) return `s${n}`;
});

async function startClusterGateway(cluster: TestRedisCluster): Promise<Gateway> {
  return Gateway.start({
    ...loadConfig({}),
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    redisClusterNodes: cluster.addresses,
    redisKeyPrefix: PREFIX,
    shutdownTimeoutMs: 2_000,
  });
}

/** Publishes to every subject in turn until `stop()`, recording what was acknowledged and what failed. */
function publishLoop(client: BrokerClient) {
  const acked = new Map<string, Map<number, string>>(SUBJECTS.map((s) => [s, new Map()]));
  const failures: { subject: string; body: string; at: number; code: Code }[] = [];
  const lastAckAt = new Map<string, number>();
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const subject = SUBJECTS[i % SUBJECTS.length] as string;
      const body = `${subject}#${i}`;
      try {
        const { id } = await client.publish({ subject, body: bytes(body), expirationSeconds: 300 });
        const ids = acked.get(subject) as Map<number, string>;
        assert.ok(!ids.has(Number(id)), `${subject}: id ${id} acknowledged twice`);
        ids.set(Number(id), body);
        lastAckAt.set(subject, Date.now());
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        failures.push({ subject, body, at: Date.now(), code: err.code });
        await sleep(20);
      }
    }
  })();
  return {
    acked,
    failures,
    lastAckAt,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

describe("a Redis Cluster master killed under live publishers and subscribers", () => {
  let cluster: TestRedisCluster;
  let gateway: Gateway;
  before(async () => {
    cluster = await TestRedisCluster.start();
    gateway = await startClusterGateway(cluster);
  });
  after(async () => {
    await gateway?.close();
    await cluster?.destroy();
  });

  it("fails publishes fast while the slot has no master, recovers after the replica's promotion, and loses, duplicates or reorders nothing acknowledged", async () => {
    const client = brokerClient(gateway);
    const subscriptions = new Map<string, TestSubscription>();
    for (const subject of SUBJECTS) subscriptions.set(subject, await subscribeLive(client, subject));
    const load = publishLoop(client);
    try {
      await sleep(1_000);
      const victim = await cluster.masterOfSlot(keys.slotOf(keys.partitionOf(SUBJECTS[0] as string)));
      const killedAt = Date.now();
      await cluster.kill(victim);
      const notReady = await eventually("/readyz to answer 503 after the kill", async () => {
        const answer = await httpStatus(gateway.httpPort, "/readyz");
        return answer.status === 503 ? answer.body : undefined;
      });
      assert.match(notReady, /unreachable|cluster_state|CLUSTERDOWN|reader failing/);
      // Every subject is published to again, the dead master's ones through the promoted replica.
      await eventually(
        "every subject acknowledged again after the kill",
        () => (SUBJECTS.every((s) => (load.lastAckAt.get(s) ?? 0) > killedAt + 500) ? true : undefined),
        30_000,
      );
      const recoveredAt = Math.max(...SUBJECTS.map((s) => load.lastAckAt.get(s) ?? 0));
      await eventually("/readyz to answer 200 again", async () =>
        (await httpStatus(gateway.httpPort, "/readyz")).status === 200 ? true : undefined,
      );
      await sleep(500);
      await load.stop();
      const failed = load.failures.filter((f) => f.at >= killedAt);
      assert.ok(
        failed.every((f) => f.code === Code.Unavailable),
        `failures are UNAVAILABLE: ${JSON.stringify(failed.slice(0, 5))}`,
      );
      console.log(
        `failover: master ${victim} killed; ${failed.length} publishes failed (UNAVAILABLE); ` +
          `all subjects acknowledged again within ${recoveredAt - killedAt} ms; ` +
          `${[...load.acked.values()].reduce((n, ids) => n + ids.size, 0)} acknowledged in total`,
      );
      const failedBodies = new Set(load.failures.map((f) => f.body));
      for (const subject of SUBJECTS) {
        const acked = load.acked.get(subject) as Map<number, string>;
        const last = Math.max(...acked.keys());
        const subscription = subscriptions.get(subject) as TestSubscription;
        // Either the stream delivers through the last acknowledged id, or (Redis replication
        // being asynchronous) the promoted replica lacked acknowledged writes and the stream
        // ends with DATA_LOSS, never passing reused ids off as new messages.
        const outcome = await eventually(`${subject} delivered through id ${last}`, async () => {
          if (subscription.received.some((m) => Number(m.id) >= last)) return "delivered";
          const ended = await Promise.race([subscription.finished, sleep(10).then(() => "open")]);
          return ended === "open" ? undefined : ended;
        });
        if (outcome !== "delivered") {
          assert.ok(
            outcome instanceof ConnectError && outcome.code === Code.DataLoss,
            `${subject}: stream ended with ${String(outcome)}`,
          );
          console.log(`failover: ${subject} lost acknowledged writes; its stream ended with DATA_LOSS`);
          continue;
        }
        const got = subscription.received.map((m) => ({ id: Number(m.id), body: text(m.body) }));
        assert.deepEqual(
          got.map((m) => m.id),
          Array.from({ length: got.length }, (_, i) => i + 1),
          `${subject}: ids 1..n in order, none twice, none skipped`,
        );
        assert.equal(new Set(got.map((m) => m.body)).size, got.length, `${subject}: no message stored twice`);
        const byId = new Map(got.map((m) => [m.id, m.body]));
        for (const [id, body] of acked) assert.equal(byId.get(id), body, `${subject}: acknowledged id ${id} delivered`);
        // A delivered message that was never acknowledged is a publish whose fate was unknown (it failed with UNAVAILABLE).
        for (const m of got) {
          if (!acked.has(m.id))
            assert.ok(failedBodies.has(m.body), `${subject}: ${m.body} was neither acknowledged nor failed`);
        }
      }
    } finally {
      await load.stop();
      for (const subscription of subscriptions.values()) subscription.close();
    }
  });
});
