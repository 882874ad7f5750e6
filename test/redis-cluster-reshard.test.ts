import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { Gateway } from "../gateway/src/gateway.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { brokerClient } from "./support/clients.js";
import { assertDeliveredInOrder, publishLoop, startClusterGateway } from "./support/cluster-traffic.js";
import { eventually } from "./support/node-process.js";
import { TestRedisCluster } from "./support/redis-cluster.js";
import { sleep, subscribeLive, type TestSubscription } from "./support/streams.js";

const PREFIX = "reshard:";
const keys = new RedisKeys(PREFIX);
/** Several subjects of partition 0 (the one moved) and one of each other partition. */
const SUBJECTS = [
  ...Array.from({ length: 200 }, (_, n) => `m${n}`)
    .filter((s) => keys.partitionOf(s) === 0)
    .slice(0, 4),
  ...Array.from({ length: keys.partitions - 1 }, (_, p) => {
    for (let n = 0; ; n++) if (keys.partitionOf(`o${n}`) === p + 1) return `o${n}`;
  }),
];

describe("a slot migration (redis-cli --cluster reshard) under live publishers and subscribers", () => {
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

  it("moves a partition's slot to another master while its subjects are published to and followed, losing, duplicating or reordering nothing", async () => {
    const client = brokerClient(gateway);
    const subscriptions = new Map<string, TestSubscription>();
    for (const subject of SUBJECTS) subscriptions.set(subject, await subscribeLive(client, subject));
    const load = publishLoop(client, SUBJECTS);
    try {
      await sleep(800);
      const slot = keys.slotOf(0);
      const from = await cluster.masterOfSlot(slot);
      const to = (await cluster.masterPorts()).find((port) => port !== from) as number;
      const started = Date.now();
      assert.equal(await cluster.reshardSlot(slot, to), from);
      const tookMs = Date.now() - started;
      assert.equal(await cluster.masterOfSlot(slot), to, "the slot moved");
      const movedAt = Date.now();
      await eventually(
        "every subject acknowledged after the move",
        () => (SUBJECTS.every((s) => (load.lastAckAt.get(s) ?? 0) > movedAt) ? true : undefined),
        20_000,
      );
      await sleep(300);
      await load.stop();
      assert.ok(
        load.failures.every((f) => f.code === Code.Unavailable),
        `failures are UNAVAILABLE: ${JSON.stringify(load.failures.slice(0, 5))}`,
      );
      const lost = await assertDeliveredInOrder(load, subscriptions);
      assert.deepEqual(lost, [], "a migration loses nothing");
      const acked = [...load.acked.values()].reduce((n, ids) => n + ids.size, 0);
      console.log(
        `reshard: slot ${slot} and the ${slot} before it moved ${from} -> ${to} in ${tookMs} ms; ` +
          `${load.failures.length} publishes failed (UNAVAILABLE), ${acked} acknowledged`,
      );
    } finally {
      await load.stop();
      for (const subscription of subscriptions.values()) subscription.close();
    }
  });
});
