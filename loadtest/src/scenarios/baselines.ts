import { Redis } from "ioredis";
import pg from "pg";
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

export const PG_ROWS_PER_STATEMENT = 1_000;

/**
 * The archive ceiling: multi-row inserts of 128-byte messages through one
 * node-postgres client, 1,000 rows a statement via unnest, into a table with
 * a (subject, id) primary key, in a schema of its own that is dropped after.
 */
export async function rawPostgresBaseline(ctx: BenchContext, withExpiryIndex = false): Promise<ScenarioResult> {
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  const schema = `bench_${ctx.runId.replace(/[^a-z0-9]/gi, "")}${withExpiryIndex ? "_ix" : ""}`;
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA ${schema}`);
    await client.query(
      `CREATE TABLE ${schema}.messages (subject text NOT NULL, id bigint NOT NULL, body bytea NOT NULL,
        published_at bigint NOT NULL, expires_at bigint NOT NULL, PRIMARY KEY (subject, id))`,
    );
    // The archive's own table also indexes expires_at (for its retention sweep).
    if (withExpiryIndex) await client.query(`CREATE INDEX ON ${schema}.messages (expires_at)`);
    let nextId = 1;
    const insert = async () => {
      const ids: number[] = [];
      for (let i = 0; i < PG_ROWS_PER_STATEMENT; i++) ids.push(nextId++);
      const now = Date.now();
      await client.query(
        `INSERT INTO ${schema}.messages (subject, id, body, published_at, expires_at)
         SELECT 'raw', unnest($1::bigint[]), unnest($2::bytea[]), $3, $4`,
        [ids, ids.map(() => BODY), now, now + 60_000],
      );
    };
    // One statement in flight on one connection (node-postgres queues the rest anyway).
    const run = await closedLoop(
      "raw Postgres insert",
      { concurrency: 1, durationMs: duration(ctx), maxOps: 1_000_000 },
      insert,
    );
    const rows = Number((await client.query(`SELECT count(*) AS n FROM ${schema}.messages`)).rows[0]?.n ?? 0);
    const expectedRows = run.ok * PG_ROWS_PER_STATEMENT;
    return {
      scenario: withExpiryIndex ? "raw-insert-indexed" : "raw-insert",
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
      extra: { rowsPerStatement: PG_ROWS_PER_STATEMENT },
    };
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await client.end();
  }
}
