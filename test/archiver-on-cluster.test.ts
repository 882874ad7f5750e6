import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Archiver } from "../archiver/src/archiver.js";
import { loadArchiverConfig } from "../archiver/src/config.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { createDatabase, query, waitArchivedThrough } from "./support/archive.js";
import { TestRedisCluster } from "./support/redis-cluster.js";

const PREFIX = "archived:";
const keys = new RedisKeys(PREFIX);
/** Two subjects per partition, so every master holds some. */
const SUBJECTS = Array.from({ length: 400 }, (_, n) => `a${n}`).filter((subject, i, all) => {
  const p = keys.partitionOf(subject);
  return all.slice(0, i).filter((s) => keys.partitionOf(s) === p).length < 2;
});
const PER_SUBJECT = 30;

describe("two archivers on a Redis Cluster", () => {
  let cluster: TestRedisCluster;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let engine: RedisEngine;
  const archivers: Archiver[] = [];
  before(async () => {
    cluster = await TestRedisCluster.start();
    database = await createDatabase();
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, clusterNodes: cluster.addresses, keyPrefix: PREFIX });
    await engine.ready();
  });
  after(async () => {
    await Promise.all(archivers.map((archiver) => archiver.stop()));
    await engine?.close();
    await cluster?.destroy();
    await database?.drop();
  });

  it("find every subject on every master, share the copying and archive each message once, then trim Redis to the hot window", async () => {
    assert.equal(new Set(SUBJECTS.map((s) => keys.partitionOf(s))).size, keys.partitions);
    for (let i = 0; i < PER_SUBJECT; i++) {
      await Promise.all(
        SUBJECTS.map((subject) => engine.append(subject, Buffer.from(`${subject}#${i + 1}`), Date.now() + 600_000)),
      );
    }
    for (let n = 0; n < 2; n++) {
      const archiver = new Archiver(
        loadArchiverConfig({
          REDIS_CLUSTER_NODES: cluster.nodesEnv,
          DATABASE_URL: database.url,
          REDIS_KEY_PREFIX: PREFIX,
          ARCHIVE_IDLE_MS: "20",
          ARCHIVE_BATCH_SIZE: "50",
          ARCHIVE_HOT_COUNT: "5",
          ARCHIVE_HOT_AGE_MS: "0",
        }),
      );
      archiver.start();
      archivers.push(archiver);
    }
    for (const subject of SUBJECTS) await waitArchivedThrough(database.url, subject, PER_SUBJECT, 30_000);
    const rows = await query<{ subject: string; count: string }>(
      database.url,
      "SELECT subject, count(*) AS count FROM broker_messages GROUP BY subject",
    );
    assert.equal(rows.length, SUBJECTS.length);
    for (const row of rows) assert.equal(Number(row.count), PER_SUBJECT, row.subject);
    assert.equal(
      archivers.reduce((n, a) => n + a.stats.conflicts, 0),
      0,
      "nothing copied twice",
    );
    assert.ok(
      archivers.every((a) => a.stats.copied > 0),
      `both archivers copied: ${archivers.map((a) => a.stats.copied)}`,
    );
    // Trimming runs per partition pipeline on the node serving it.
    const { first } = await engine.storedRange(SUBJECTS[0] as string);
    assert.ok(first > 1, `the archived head of the stream was trimmed (first stored id ${first})`);
    assert.equal(
      archivers.reduce((n, a) => n + a.failingPasses, 0),
      0,
    );
  });
});
