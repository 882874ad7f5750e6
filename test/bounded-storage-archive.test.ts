import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { query, startArchivedGateway, waitArchivedThrough } from "./support/archive.js";
import { brokerClient } from "./support/clients.js";
import { bytes, text } from "./support/streams.js";

/** The RedisEngine behind the archive-backed engine (its sweeper), reached for the test's fake sweep clock. */
function sweeperOf(engine: unknown): RedisEngine["sweeper"] {
  return (engine as { hot: RedisEngine }).hot.sweeper;
}

describe("the sweep beside the archiver", () => {
  it("deletes only streams with nothing fetchable, loses no archived message, and ids go on", async () => {
    const archived = await startArchivedGateway({ redisSweepIntervalMs: 0 });
    try {
      const client = brokerClient(archived.gateway.gateway, "grpc");
      const keys = new RedisKeys(archived.prefix);
      for (let i = 1; i <= 3; i++) {
        await client.publish({ subject: "short", body: bytes(`short ${i}`), expirationSeconds: 1 });
        await client.publish({ subject: "long", body: bytes(`long ${i}`), expirationSeconds: 600 });
      }
      await waitArchivedThrough(archived.database.url, "short", 3);
      await waitArchivedThrough(archived.database.url, "long", 3);
      const sweeper = sweeperOf(archived.gateway.gateway.engine);

      // Two seconds on: "short" has nothing fetchable left, "long" has.
      const first = await sweeper.sweep(Date.now() + 2_000);
      assert.deepEqual({ deleted: first?.deleted, trimmed: first?.trimmed }, { deleted: 1, trimmed: 0 });
      assert.equal(await archived.redis.exists(keys.stream("short")), 0);
      assert.equal(await archived.redis.xlen(keys.stream("long")), 3);

      // Ids continue above the deleted stream's, and the archiver archives them as before.
      assert.equal((await client.publish({ subject: "short", body: bytes("short 4"), expirationSeconds: 600 })).id, 4n);
      await waitArchivedThrough(archived.database.url, "short", 4);
      const gaps = await query(archived.database.url, "SELECT 1 FROM broker_archive_gaps WHERE subject = $1", [
        "short",
      ]);
      assert.equal(gaps.length, 0, "the archiver saw no lost range");

      // Ten minutes on (for the sweep's clock) "long" goes too; its messages are still in the archive.
      assert.equal((await sweeper.sweep(Date.now() + 700_000))?.deleted, 2);
      assert.equal(await archived.redis.exists(keys.stream("long")), 0);
      assert.equal(text((await client.fetch({ subject: "long", id: 2n })).body), "long 2");
      assert.equal((await client.publish({ subject: "long", body: bytes("long 4"), expirationSeconds: 600 })).id, 4n);
    } finally {
      await archived.stop();
    }
  });
});
