import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { Gateway } from "../gateway/src/gateway.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { brokerClient } from "./support/clients.js";
import { assertDeliveredInOrder, publishLoop, startClusterGateway } from "./support/cluster-traffic.js";
import { httpStatus } from "./support/health-client.js";
import { eventually } from "./support/node-process.js";
import { TestRedisCluster } from "./support/redis-cluster.js";
import { sleep, subscribeLive, type TestSubscription } from "./support/streams.js";

const PREFIX = "failover:";
const keys = new RedisKeys(PREFIX);
/** One subject per partition: every master serves some of them. */
const SUBJECTS = Array.from({ length: keys.partitions }, (_, p) => {
  for (let n = 0; ; n++) if (keys.partitionOf(`s${n}`) === p) return `s${n}`;
});

describe("a Redis Cluster master killed under live publishers and subscribers", () => {
  let cluster: TestRedisCluster;
  let gateway: Gateway;
  before(async () => {
    cluster = await TestRedisCluster.start();
    gateway = await startClusterGateway(cluster, PREFIX);
  });
  after(async () => {
    await gateway?.close();
    await cluster?.destroy();
  });

  it("fails publishes fast while the slot has no master, recovers after the replica's promotion, and loses, duplicates or reorders nothing acknowledged", async () => {
    const client = brokerClient(gateway);
    const subscriptions = new Map<string, TestSubscription>();
    for (const subject of SUBJECTS) subscriptions.set(subject, await subscribeLive(client, subject));
    const load = publishLoop(client, SUBJECTS);
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
      const lost = await assertDeliveredInOrder(load, subscriptions);
      if (lost.length > 0)
        console.log(`failover: ${lost.join(", ")} lost acknowledged writes; their streams ended with DATA_LOSS`);
    } finally {
      await load.stop();
      for (const subscription of subscriptions.values()) subscription.close();
    }
  });
});
