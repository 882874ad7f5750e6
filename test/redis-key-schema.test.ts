import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hashSlot, PARTITIONS, RedisKeys, SLOTS } from "../gateway/src/storage/redis-keys.js";
import { TestRedisCluster } from "./support/redis-cluster.js";

const keys = new RedisKeys("broker:stream:");
const subjects = ["orders", "a{b}c", "ünïcödé", "", "x".repeat(300), ...Array.from({ length: 200 }, (_, i) => `s${i}`)];

describe("the Redis key schema", () => {
  it("gives each of the 16 partitions a hash tag whose slot lies in its own sixteenth of the slots", () => {
    assert.equal(PARTITIONS, 16);
    const width = SLOTS / PARTITIONS;
    for (let p = 0; p < PARTITIONS; p++) {
      const slot = keys.slotOf(p);
      assert.ok(slot >= p * width && slot < (p + 1) * width, `partition ${p} on slot ${slot}`);
      assert.equal(hashSlot(keys.tags[p]?.slice(1, -1) ?? ""), slot);
    }
  });

  it("spreads subjects over every partition", () => {
    const used = new Set(subjects.map((subject) => keys.partitionOf(subject)));
    assert.equal(used.size, PARTITIONS);
  });

  it("puts a subject's stream, its idempotency keys and its registry under one tag, tag first", () => {
    for (const subject of subjects) {
      const tag = keys.tags[keys.partitionOf(subject)] as string;
      assert.ok(keys.stream(subject).startsWith(`${tag}broker:stream:`));
      assert.ok(keys.idempotency(subject, "k").toString("latin1").startsWith(tag));
      assert.ok(keys.registryOf(subject).startsWith(tag));
      assert.ok(keys.subjectKey(subject, ":w").startsWith(tag));
      assert.equal(keys.subjectOf(keys.stream(subject)), subject);
    }
  });

  it("never names a registry like a stream", () => {
    for (const registry of keys.registries()) {
      assert.ok(!registry.slice(registry.indexOf("}") + 1).startsWith(keys.prefix));
    }
  });
});

describe("the key schema on a real Redis Cluster", () => {
  let cluster: TestRedisCluster;
  before(async () => {
    cluster = await TestRedisCluster.start();
  });
  after(() => cluster.destroy());

  it("computes the same hash slot as CLUSTER KEYSLOT for every kind of key", async () => {
    const redis = cluster.connect(cluster.addresses[0]?.port as number);
    try {
      for (const subject of subjects.slice(0, 40)) {
        const expected = keys.slotOf(keys.partitionOf(subject));
        assert.equal(await redis.cluster("KEYSLOT", keys.stream(subject)), expected, subject);
        assert.equal(await redis.cluster("KEYSLOT", keys.registryOf(subject)), expected, subject);
        assert.equal(await redis.cluster("KEYSLOT", keys.idempotency(subject, "key").toString("latin1")), expected);
      }
    } finally {
      redis.disconnect();
    }
  });

  it("gives each of three masters five or six of the partitions", async () => {
    const perMaster = new Map<number, number>();
    for (let p = 0; p < PARTITIONS; p++) {
      const master = await cluster.masterOfSlot(keys.slotOf(p));
      perMaster.set(master, (perMaster.get(master) ?? 0) + 1);
    }
    assert.equal(perMaster.size, 3);
    for (const count of perMaster.values()) assert.ok(count === 5 || count === 6, `${[...perMaster.values()]}`);
  });
});
