import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { PrivateRedis } from "./support/private-redis.js";
import { TestRedisCluster } from "./support/redis-cluster.js";
import { bytes } from "./support/streams.js";

describe("REDIS_MIN_REPLICAS_ACK on one Redis with a replica", () => {
  let master: PrivateRedis;
  let replica: PrivateRedis;
  before(async () => {
    master = await PrivateRedis.start();
    replica = await PrivateRedis.start();
    const inspector = replica.connect();
    try {
      await inspector.replicaof("127.0.0.1", master.port);
      for (;;) {
        if ((await inspector.info("replication")).includes("master_link_status:up")) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      inspector.disconnect();
    }
  });
  after(async () => {
    await replica.destroy();
    await master.destroy();
  });

  it("acknowledges a publish once the replica has it, and fails it with UNAVAILABLE (stored, unconfirmed) when no replica confirms", async () => {
    const { gateway, config, stop } = await startGateway("redis", { redisUrl: master.url, redisMinReplicasAck: 1 });
    const client = brokerClient(gateway);
    const keys = new RedisKeys(config.redisKeyPrefix);
    const onReplica = replica.connect();
    const onMaster = master.connect();
    try {
      const { id } = await client.publish({ subject: "acked", body: bytes("one"), expirationSeconds: 60 });
      assert.equal(
        (await onReplica.xrange(keys.stream("acked"), "-", "+")).length,
        1,
        "on the replica when acknowledged",
      );
      const batch = await client.publishBatch({
        messages: [
          { subject: "acked", body: bytes("two"), expirationSeconds: 60 },
          { subject: "other", body: bytes("three"), expirationSeconds: 60 },
        ],
      });
      assert.equal(batch.ids.length, 2);
      assert.equal((await onReplica.xlen(keys.stream("acked"))) + (await onReplica.xlen(keys.stream("other"))), 3);
      await replica.stopServer();
      const started = Date.now();
      await assert.rejects(
        client.publish({ subject: "acked", body: bytes("unconfirmed"), expirationSeconds: 60 }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === Code.Unavailable && /0 of 1 replicas/.test(err.message),
      );
      assert.ok(Date.now() - started >= 900, "waited for the replica (half the command timeout)");
      assert.equal(await onMaster.xlen(keys.stream("acked")), 3, "the unconfirmed publish is stored on the master");
      assert.equal(Number(id), 1);
    } finally {
      onReplica.disconnect();
      onMaster.disconnect();
      await stop();
    }
  });
});

describe("REDIS_MIN_REPLICAS_ACK on a Redis Cluster", () => {
  let cluster: TestRedisCluster;
  before(async () => {
    cluster = await TestRedisCluster.start();
  });
  after(() => cluster.destroy());

  it("waits on the master that took each write: every partition's publish is on its replica when acknowledged", async () => {
    const { gateway, config, stop } = await startGateway("redis", {
      redisUrl: undefined,
      redisClusterNodes: cluster.addresses,
      redisMinReplicasAck: 1,
    });
    const keys = new RedisKeys(config.redisKeyPrefix);
    const client = brokerClient(gateway);
    const probe = cluster.connect(cluster.addresses[0]?.port as number);
    try {
      const slots = await probe.cluster("SLOTS");
      for (let p = 0; p < keys.partitions; p++) {
        const subject = Array.from({ length: 500 }, (_, n) => `p${n}`).find((s) => keys.partitionOf(s) === p) as string;
        await client.publish({ subject, body: bytes(subject), expirationSeconds: 60 });
        const slot = keys.slotOf(p);
        const replicaPort = slots.find(([from, to]) => slot >= from && slot <= to)?.[3]?.[1] as number;
        const replica = cluster.connect(replicaPort);
        try {
          await replica.call("READONLY");
          assert.equal(await replica.xlen(keys.stream(subject)), 1, `partition ${p} on its replica ${replicaPort}`);
        } finally {
          replica.disconnect();
        }
      }
    } finally {
      probe.disconnect();
      await stop();
    }
  });
});
