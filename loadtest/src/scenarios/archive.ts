import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { Redis } from "ioredis";
import pg from "pg";
import { BrokerChannels } from "../grpc-client.js";
import { constantRate, sleep } from "../load.js";
import { pinToCpus } from "../proc.js";
import { progress } from "../progress.js";
import { RawFetcher } from "../raw-fetcher.js";
import { type BenchContext, perOpUs, type ScenarioResult, withServerCpu } from "../results.js";
import {
  buildGatewayOnce,
  SERVER_CPUS,
  type ServerProcess,
  serverNodeArgs,
  startGateway,
  stopChild,
} from "../servers.js";
import { noopFetchFloor, rawLookupFloor } from "./fetch-floors.js";

const ROOT = new URL("../../../", import.meta.url).pathname;

/**
 * The archiver is another part of the project (archiver/, `npm run archiver`,
 * PostgreSQL via DATABASE_URL). When this tree has no archiver, its scenarios
 * report "not available" rather than a figure.
 */
export function archiverAvailable(): { available: boolean; reason: string } {
  if (!existsSync(`${ROOT}archiver`)) return { available: false, reason: "no archiver/ in this tree" };
  const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { scripts?: Record<string, string> };
  if (!pkg.scripts?.archiver) return { available: false, reason: "package.json has no archiver script" };
  return { available: true, reason: "" };
}

function databaseUrlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

/** The archive's message tables: those with both a subject and a body column (broker_messages). */
async function messageTables(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.columns
     WHERE column_name IN ('subject', 'body') AND table_schema NOT IN ('pg_catalog', 'information_schema')
     GROUP BY table_schema, table_name HAVING count(*) = 2`,
  );
  return rows.map(({ schema, name }) => `"${schema}"."${name}"`);
}

/**
 * Messages archived so far. The archiver's per-subject watermark table
 * (broker_archive_progress) answers cheaply; without it, count the rows (a
 * count(*) every poll would compete with the archiver for PostgreSQL).
 */
async function archivedRows(client: pg.Client): Promise<number> {
  const progress = await client
    .query<{ n: string }>("SELECT coalesce(sum(archived_through), 0) AS n FROM broker_archive_progress")
    .catch(() => undefined);
  if (progress) return Number(progress.rows[0]?.n ?? 0);
  let total = 0;
  for (const table of await messageTables(client)) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    total += Number(rows[0]?.n ?? 0);
  }
  return total;
}

/** The built archiver as `npm run archiver` runs it, but without npm between: signals reach it. */
function startArchiver(env: Record<string, string>): ChildProcess {
  buildGatewayOnce();
  // BENCH_SERVER_NODE_ARGS (e.g. --cpu-prof) applies to the archiver too.
  const args = [
    ...serverNodeArgs(),
    "--import",
    "./dist/archiver/src/register-tracing.js",
    "dist/archiver/src/main.js",
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // Any free metrics port: the gateways of the run are listening too.
    env: { ...process.env, METRICS_PORT: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (child.pid !== undefined) pinToCpus(child.pid, SERVER_CPUS);
  return child;
}

/**
 * Archiver throughput and archived Fetch, on a gateway over Redis with the
 * archive in a database of its own: publish a backlog, start the archiver,
 * time it until every message is a row; then cut the streams in Redis down
 * so the first ids exist only in the archive, and Fetch them at 2,000/s.
 */
export async function archiveScenarios(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { available, reason } = archiverAvailable();
  if (!available) {
    return [
      { scenario: "archiver", target: "redis+archive", status: "not available", note: reason },
      { scenario: "archived-fetch", target: "redis+archive", status: "not available", note: reason },
    ];
  }
  const database = `bench_${ctx.runId.replace(/[^a-z0-9]/gi, "")}`;
  const admin = new pg.Client({ connectionString: ctx.databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const databaseUrl = databaseUrlFor(ctx.databaseUrl, database);
  const archive = new pg.Client({ connectionString: databaseUrl });
  let gateway: ServerProcess | undefined;
  let archiver: ChildProcess | undefined;
  const results: ScenarioResult[] = [];
  try {
    await archive.connect();
    const archiverEnv = {
      REDIS_URL: ctx.redisUrl,
      DATABASE_URL: databaseUrl,
      // Archived messages leave Redis at once, so Fetch of old ids must read PostgreSQL.
      ARCHIVE_HOT_COUNT: "100",
      ARCHIVE_HOT_AGE_MS: "0",
    };
    // A first archiver run creates the archive's tables (its migrations); the gateway
    // needs them to place a new subject's first id above the archive's.
    archiver = startArchiver({ ...archiverEnv, REDIS_KEY_PREFIX: `bench:unused:${ctx.runId}:` });
    const migrated = performance.now();
    while ((await messageTables(archive)).length === 0) {
      if (performance.now() - migrated > 30_000 || archiver.exitCode !== null) {
        throw new Error("the archiver did not create its tables within 30 s");
      }
      await sleep(100);
    }
    await stopChild(archiver);
    archiver = undefined;
    gateway = await startGateway("redis+archive", ctx.redisUrl, {
      DATABASE_URL: databaseUrl,
      REDIS_MAXLEN: "10000000",
    });
    const client = new BrokerChannels(gateway.address, 2);
    const subjects = 10;
    const backlog = ctx.smoke ? 5_000 : 200_000;
    const perBatch = 500;
    for (let sent = 0; sent < backlog; sent += perBatch) {
      await client.publishBatch({
        messages: Array.from({ length: perBatch }, (_, i) => ({
          subject: `bench-archive-${ctx.runId}-${(sent + i) % subjects}`,
          body: Buffer.alloc(128, (sent + i) % 251),
          expirationSeconds: 3_600,
          idempotencyKey: "",
        })),
      });
      progress.update(`archive backlog: ${sent + perBatch}/${backlog}`);
    }
    // Archiver throughput on the backlog, from its first row to the last.
    archiver = startArchiver({ ...archiverEnv, REDIS_KEY_PREFIX: gateway.redisKeyPrefix ?? "" });
    let stderr = "";
    archiver.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const t0 = performance.now();
    let firstAt: number | undefined;
    let firstRows = 0;
    let rows = 0;
    while (rows < backlog && performance.now() - t0 < (ctx.smoke ? 30_000 : 120_000) && archiver.exitCode === null) {
      // Often: the copy takes about a second, and each poll's lateness is error in the rate.
      await sleep(20);
      rows = await archivedRows(archive).catch(() => 0);
      if (rows > 0 && firstAt === undefined) {
        firstAt = performance.now();
        firstRows = rows;
      }
      progress.update(`archiver: ${rows}/${backlog} rows`);
    }
    const doneAt = performance.now();
    // The watermark says what was processed; the rows must really be there.
    let counted = 0;
    for (const table of await messageTables(archive)) {
      const { rows: counts } = await archive.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
      counted += Number(counts[0]?.n ?? 0);
    }
    const archived = rows >= backlog && counted >= backlog;
    results.push({
      scenario: "archiver",
      target: "redis+archive",
      status: archived ? "ok" : "failed",
      ...(archived ? {} : { note: `${counted}/${backlog} rows archived in time; archiver stderr: ${stderr.trim()}` }),
      // From the first row to the last; a backlog done within one poll is timed from the archiver's start.
      throughput:
        firstAt !== undefined && doneAt - firstAt >= 500
          ? ((rows - firstRows) * 1000) / (doneAt - firstAt)
          : (counted * 1000) / (doneAt - t0),
      unit: "rows/s",
      lost: backlog - Math.min(counted, backlog),
      extra: { backlog, seconds: Math.round(doneAt - (firstAt ?? t0)) / 1000 },
    });
    if (!archived) {
      results.push({
        scenario: "archived-fetch",
        target: "redis+archive",
        status: "failed",
        note: "archiver did not finish",
      });
      return results;
    }
    // Its backlog copied, the archiver has nothing left to do; stopped, so that its idle polling and
    // the full collection V8 runs once it goes idle (~80 ms of CPU seen in a profile) do not land on the
    // server core during the Fetch measurements below (in production it runs on a host of its own).
    await stopChild(archiver);
    archiver = undefined;
    // The archiver keeps the newest 100 entries of each stream in Redis (ARCHIVE_HOT_COUNT); trim
    // to that here too so the first ids live in the archive alone, as its trim would leave them.
    const redis = new Redis(ctx.redisUrl, { protocol: 2 });
    for (let s = 0; s < subjects; s++) {
      await redis.xtrim(`${gateway.redisKeyPrefix}bench-archive-${ctx.runId}-${s}`, "MAXLEN", 100);
    }
    redis.disconnect();
    // Autovacuum visits freshly loaded tables within a minute or so: in the middle of whichever of
    // the three Fetch measurements below comes first, the gateway's. Vacuum and analyze them now.
    for (const table of await messageTables(archive)) await archive.query(`VACUUM (ANALYZE) ${table}`);
    let mismatches = 0;
    const archivedPerSubject = backlog / subjects - 100;
    // Spread over the archived ids of every subject, none twice in a run.
    const archivedKey = (i: number) => ({
      subject: `bench-archive-${ctx.runId}-${i % subjects}`,
      id: 1 + ((i * 7919) % archivedPerSubject),
    });
    // The lean client (as the delivery scenarios use): its garbage stays out of the latencies.
    const fetcher = new RawFetcher(gateway.address, 2);
    const fetchArchived = async (i: number) => {
      const { subject, id } = archivedKey(i);
      const s = i % subjects;
      const body = await fetcher.fetch(subject, id);
      // Message n of the backlog (0-based) went to subject n % subjects as id floor(n / subjects) + 1.
      const n = (id - 1) * subjects + s;
      if (body[0] !== n % 251) mismatches += 1;
    };
    const load = {
      ratePerSecond: ctx.smoke ? 200 : 2_000,
      warmUpMs: ctx.smoke ? 200 : 2_000,
      durationMs: ctx.smoke ? 1_000 : 10_000,
    };
    // Warm-up like the other scenarios (JIT, the gateway's PostgreSQL pool), on other ids than the
    // measured run's first ones; its wrong bodies count too.
    await constantRate(
      "archived fetch warm-up",
      { ratePerSecond: load.ratePerSecond, durationMs: load.warmUpMs },
      (i) => fetchArchived(i + 1_000_003),
    );
    const server = gateway;
    const {
      value: run,
      serverCpuMs,
      serverGc,
    } = await withServerCpu(server, () => constantRate("archived fetch", load, fetchArchived));
    const latency = run.latency.summary();
    results.push({
      scenario: "archived-fetch",
      target: "redis+archive",
      status: run.errors || mismatches || run.ok === 0 ? "failed" : "ok",
      ...(run.firstError ? { note: run.firstError } : mismatches ? { note: `${mismatches} wrong bodies` } : {}),
      throughput: (run.ok * 1000) / run.elapsedMs,
      unit: "fetches/s",
      latency,
      serverCpuUsPerOp: perOpUs(serverCpuMs, run.ok),
      errors: run.errors,
      extra: { clientLate: run.late, ...serverGc },
    });
    client.close();
    fetcher.close();
    // The same load against its two floors, right after, on the same rows.
    results.push(await rawLookupFloor(databaseUrl, load, archivedKey));
    results.push(await noopFetchFloor(load));
    return results;
  } finally {
    if (archiver) await stopChild(archiver);
    if (gateway) await gateway.stop();
    await archive.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}
