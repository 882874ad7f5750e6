import { Redis } from "ioredis";
import pg from "pg";
import { encodeMessagesForCopy, MESSAGE_COLUMNS } from "../../../archiver/src/copy-encoding.js";
import { copyFrom } from "../../../archiver/src/copy-from.js";
import type { StoredMessage } from "../../../gateway/src/core/message.js";
import { type Participant, sampled } from "../interleave.js";
import { closedLoop } from "../load.js";
import type { BenchContext, ScenarioResult } from "../results.js";

const BODY = Buffer.alloc(128, 7);

function duration(ctx: BenchContext): number {
  return ctx.smoke ? 1_000 : 5_000;
}

/**
 * The storage ceiling: one ioredis client (auto-pipelining, as the gateway's
 * command connection) doing what a publish and a hot fetch do in Redis, with
 * 256 commands in flight: XADD with the gateway's fields and trimming, and
 * XRANGE of one id among the newest 1,000. Measured interleaved with the
 * batch-publish and hot-fetch scenarios.
 */
export async function rawRedisParticipants(ctx: BenchContext): Promise<{ xadd: Participant; xrange: Participant }> {
  const redis = new Redis(ctx.redisUrl, { protocol: 2, enableAutoPipelining: true });
  const key = `bench:raw:${ctx.runId}`;
  const xadd = () =>
    redis.xadd(key, "MAXLEN", "~", 100_000, "0-*", "b", BODY, "t", Date.now(), "x", Date.now() + 60_000);
  await closedLoop("raw XADD warm-up", { concurrency: 256, durationMs: 300, maxOps: 20_000 }, xadd);
  let empty = 0;
  const xrange = async (i: number) => {
    const last = lastId;
    const id = `0-${last - ((i * 7919) % Math.min(1_000, last))}`;
    const entries = await redis.xrangeBuffer(key, id, id);
    if (entries.length !== 1) empty += 1;
  };
  let lastId = Number((await redis.xrevrange(key, "+", "-", "COUNT", 1))[0]?.[0]?.split("-")[1] ?? 1);
  let closed = 0;
  const close = async () => {
    // Shared by both participants: the last one to close cleans up.
    if (++closed < 2) return;
    await redis.del(key);
    redis.disconnect();
  };
  return {
    xadd: {
      scenario: "raw-xadd",
      target: "raw Redis",
      unit: "XADD/s",
      measure: async (durationMs) => {
        const sample = await sampled(
          undefined,
          1,
          () => 0,
          () => closedLoop("raw XADD", { concurrency: 256, durationMs, maxOps: 100_000_000 }, xadd),
        );
        lastId = Number((await redis.xrevrange(key, "+", "-", "COUNT", 1))[0]?.[0]?.split("-")[1] ?? 1);
        return sample;
      },
      close,
    },
    xrange: {
      scenario: "raw-xrange",
      target: "raw Redis",
      unit: "XRANGE/s",
      measure: (durationMs) =>
        sampled(
          undefined,
          1,
          () => empty,
          () => closedLoop("raw XRANGE", { concurrency: 256, durationMs, maxOps: 100_000_000 }, xrange),
        ),
      close,
    },
  };
}

/** Rows per COPY: the archiver's default batch (ARCHIVE_BATCH_SIZE), near the top of COPY's rate here. */
export const PG_ROWS_PER_STATEMENT = 5_000;
/** As in the archive scenario's backlog: subjects, and messages per PublishBatch (one publish time each). */
const PG_SUBJECTS = 10;
const PG_ROWS_PER_PUBLISH_TIME = 500;

/**
 * The archive ceiling: the archiver's own way of writing rows (a binary COPY
 * of PG_ROWS_PER_STATEMENT rows, archiver/src/copy-encoding.ts), but from
 * rows already in memory: no Redis, no decoding, no transaction around it,
 * no watermark. One node-postgres client, one statement in flight, each
 * COPY its own (autocommitted) transaction, into a table of the archive's
 * shape: broker_messages's columns, primary key (subject, id) and, unless
 * `withoutExpiryIndex` (to show that index's share), the index on
 * expires_at. The rows are those the archive scenario publishes: 10
 * subjects, each COPY 5,000 consecutive ids of one subject (as the
 * archiver's batches are), 128-byte bodies that differ, one publish time
 * per 500 rows and an expiry an hour later. Created in a schema of its own
 * that is dropped after.
 */
export async function rawPostgresBaseline(ctx: BenchContext, withoutExpiryIndex = false): Promise<ScenarioResult> {
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  const schema = `bench_${ctx.runId.replace(/[^a-z0-9]/gi, "")}${withoutExpiryIndex ? "_noix" : ""}`;
  const bodies = Array.from({ length: 251 }, (_, i) => Buffer.alloc(128, i));
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(
      `CREATE TABLE ${schema}.broker_messages (subject text NOT NULL, id bigint NOT NULL, body bytea NOT NULL,
        published_at bigint NOT NULL, expires_at bigint NOT NULL, PRIMARY KEY (subject, id))`,
    );
    if (!withoutExpiryIndex) await client.query(`CREATE INDEX ON ${schema}.broker_messages (expires_at)`);
    const copy = `COPY ${schema}.broker_messages ${MESSAGE_COLUMNS} FROM STDIN (FORMAT binary)`;
    let written = 0;
    const insert = async (i: number) => {
      const subject = `raw-${i % PG_SUBJECTS}`;
      const firstId = Math.floor(i / PG_SUBJECTS) * PG_ROWS_PER_STATEMENT + 1;
      const now = Date.now();
      const rows: StoredMessage[] = [];
      for (let k = 0; k < PG_ROWS_PER_STATEMENT; k++) {
        const publishedAt = now + Math.floor((written + k) / PG_ROWS_PER_PUBLISH_TIME);
        const body = bodies[(written + k) % bodies.length] as Buffer;
        rows.push({ subject, id: firstId + k, body, publishedAt, expiresAt: publishedAt + 3_600_000 });
      }
      written += PG_ROWS_PER_STATEMENT;
      const copied = await copyFrom(client, copy, encodeMessagesForCopy(rows));
      if (copied !== PG_ROWS_PER_STATEMENT) throw new Error(`COPY wrote ${copied} rows`);
    };
    // One statement in flight on one connection (node-postgres queues the rest anyway).
    const run = await closedLoop(
      "raw PostgreSQL COPY",
      { concurrency: 1, durationMs: duration(ctx), maxOps: 1_000_000 },
      insert,
    );
    const rows = Number((await client.query(`SELECT count(*) AS n FROM ${schema}.broker_messages`)).rows[0]?.n ?? 0);
    const expectedRows = run.ok * PG_ROWS_PER_STATEMENT;
    return {
      scenario: withoutExpiryIndex ? "raw-insert-no-expiry-index" : "raw-insert",
      target: "raw PostgreSQL",
      status: run.errors || rows !== expectedRows ? "failed" : "ok",
      ...(run.firstError
        ? { note: run.firstError }
        : rows !== expectedRows
          ? { note: `${rows} rows, expected ${expectedRows}` }
          : {}),
      throughput: (expectedRows * 1000) / run.elapsedMs,
      unit: "rows/s",
      latency: run.latency.summary(),
      errors: run.errors,
      extra: { rowsPerStatement: PG_ROWS_PER_STATEMENT, method: "binary COPY" },
    };
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await client.end();
  }
}
