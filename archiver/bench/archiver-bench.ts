/**
 * `npm run bench:archiver`: the archiver's Redis -> PostgreSQL throughput and
 * lag, next to a raw batched insert of the same rows measured in the same run.
 *
 * 1. Fills Redis with BENCH_MESSAGES messages over BENCH_SUBJECTS subjects.
 * 2. Raw: writes the same rows into a copy of the archive table with one
 *    client the way the archiver does, a binary COPY per ARCHIVE_BATCH_SIZE
 *    rows, but from memory (the ceiling for one client).
 * 3. Archiver: copies the backlog from Redis (reads, decode, insert, watermark,
 *    commit, trim) and is timed until the last watermark is committed.
 * 4. Lag: publishes at BENCH_RATE messages/s for BENCH_LAG_SECONDS while the
 *    archiver runs, sampling publish-to-commit lag.
 * Bounded: every phase has a fixed size or duration. Uses a throwaway
 * database and key prefix and removes both.
 */
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import type { StoredMessage } from "../../gateway/src/core/message.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../../gateway/src/engines/redis/redis-engine.js";
import { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { Archiver } from "../src/archiver.js";
import { loadArchiverConfig } from "../src/config.js";
import { encodeMessagesForCopy, MESSAGE_COLUMNS } from "../src/copy-encoding.js";
import { copyFrom } from "../src/copy-from.js";
import { loadMigrations, migrate } from "../src/migrations.js";

const env = process.env;
const REDIS_URL = env.REDIS_URL || "redis://127.0.0.1:6379";
const ADMIN_URL = env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
const MESSAGES = Number(env.BENCH_MESSAGES || 200_000);
const SUBJECTS = Number(env.BENCH_SUBJECTS || 10);
const BODY_BYTES = Number(env.BENCH_BODY_BYTES || 128);
const BATCH = Number(env.ARCHIVE_BATCH_SIZE || 5_000);
const RATE = Number(env.BENCH_RATE || 20_000);
const LAG_SECONDS = Number(env.BENCH_LAG_SECONDS || 5);
const TIMEOUT_MS = 120_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const subjects = Array.from({ length: SUBJECTS }, (_, i) => `bench-${i}`);
const body = Buffer.alloc(BODY_BYTES, 7);

async function fill(engine: RedisEngine, from: number, count: number): Promise<void> {
  for (let n = 0; n < count; n += 2_000) {
    const round: Promise<unknown>[] = [];
    for (let k = n; k < Math.min(n + 2_000, count); k++) {
      round.push(engine.append(subjects[(from + k) % SUBJECTS] as string, body, Date.now() + 3_600_000));
    }
    await Promise.all(round);
  }
}

async function rawInsert(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CREATE TABLE bench_raw (LIKE broker_messages INCLUDING ALL)");
    const perSubject = Math.ceil(MESSAGES / SUBJECTS);
    const started = performance.now();
    let batch: StoredMessage[] = [];
    const flush = async () => {
      await copyFrom(
        client,
        `COPY bench_raw ${MESSAGE_COLUMNS} FROM STDIN (FORMAT binary)`,
        encodeMessagesForCopy(batch),
      );
      batch = [];
    };
    for (const subject of subjects) {
      for (let id = 1; id <= perSubject; id++) {
        const now = Date.now();
        batch.push({ subject, id, body, publishedAt: now, expiresAt: now + 3_600_000 });
        if (batch.length === BATCH) await flush();
      }
    }
    if (batch.length > 0) await flush();
    return (perSubject * SUBJECTS) / ((performance.now() - started) / 1000);
  } finally {
    await client.end();
  }
}

async function archivedThrough(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT coalesce(sum(archived_through), 0) AS n FROM broker_archive_progress",
  );
  return Number(rows[0]?.n ?? 0);
}

async function main(): Promise<void> {
  const database = `bench_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const engine = new RedisEngine({
    ...DEFAULT_REDIS_OPTIONS,
    url: REDIS_URL,
    keyPrefix: prefix,
    maxLenPerSubject: 10_000_000,
  });
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  let archiver: Archiver | undefined;
  try {
    await engine.ready();
    await migrate(pool, await loadMigrations());
    console.log(`filling Redis: ${MESSAGES} messages of ${BODY_BYTES} B over ${SUBJECTS} subjects`);
    await fill(engine, 0, MESSAGES);

    const raw = await rawInsert(url.toString());
    console.log(`raw batched insert (one client, binary COPY, ${BATCH} rows/statement): ${Math.round(raw)} rows/s`);

    archiver = new Archiver(
      loadArchiverConfig({
        REDIS_URL,
        DATABASE_URL: url.toString(),
        REDIS_KEY_PREFIX: prefix,
        ARCHIVE_BATCH_SIZE: String(BATCH),
        ARCHIVE_HOT_COUNT: "1000",
        ARCHIVE_HOT_AGE_MS: "0",
        ARCHIVE_IDLE_MS: "10",
      }),
    );
    const started = performance.now();
    archiver.start();
    const deadline = Date.now() + TIMEOUT_MS;
    // Polls the archiver's own counter (committed rows), not PostgreSQL, so the
    // measurement adds no load; the watermark is checked once at the end.
    while (archiver.stats.copied < MESSAGES) {
      if (Date.now() > deadline) throw new Error("archiver did not finish the backlog in time");
      await sleep(2);
    }
    const archived = MESSAGES / ((performance.now() - started) / 1000);
    console.log(
      `archiver, backlog of ${MESSAGES} (Redis -> PostgreSQL, with trimming): ${Math.round(archived)} msgs/s`,
    );
    console.log(`ratio archiver / raw insert: ${(archived / raw).toFixed(2)}`);
    if ((await archivedThrough(pool)) !== MESSAGES) throw new Error("watermarks do not cover the backlog");

    console.log(`lag: publishing ${RATE} msgs/s for ${LAG_SECONDS} s while the archiver runs`);
    const lags: number[] = [];
    archiver.stats.lagMs = 0;
    // Sampled every 100 ms once the first batch of this phase has committed.
    const sampler = setInterval(() => {
      if (archiver?.stats.lagMs) lags.push(archiver.stats.lagMs);
    }, 100);
    const publishStart = Date.now();
    for (let second = 0; second < LAG_SECONDS; second++) {
      for (let slice = 0; slice < 10; slice++) {
        const sliceStart = Date.now();
        await fill(engine, MESSAGES + second * RATE + slice * (RATE / 10), RATE / 10);
        await sleep(Math.max(0, 100 - (Date.now() - sliceStart)));
      }
    }
    const published = MESSAGES + RATE * LAG_SECONDS;
    const publishSeconds = (Date.now() - publishStart) / 1000;
    while (archiver.stats.copied < published) {
      if (Date.now() > deadline + TIMEOUT_MS) throw new Error("archiver did not catch up in time");
      await sleep(2);
    }
    const drained = Date.now();
    clearInterval(sampler);
    lags.sort((a, b) => a - b);
    const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? 0;
    console.log(
      `  offered ${Math.round((RATE * LAG_SECONDS) / publishSeconds)} msgs/s; lag (publish -> commit of the newest archived): ` +
        `p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${lags[lags.length - 1] ?? 0} ms; ` +
        `caught up ${drained - publishStart - Math.round(publishSeconds * 1000)} ms after publishing stopped`,
    );
    console.log(`  conflicts ${archiver.stats.conflicts}, trimmed ${archiver.trimmed}`);
  } finally {
    await archiver?.stop();
    await pool.end();
    await engine.close();
    const redis = new Redis(REDIS_URL, { protocol: 2 });
    const keys = new RedisKeys(prefix);
    for (const subject of subjects) await redis.del(keys.stream(subject));
    for (const registry of keys.registries()) await redis.del(registry);
    redis.disconnect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
