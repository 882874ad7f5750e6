import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { Archiver } from "../../archiver/src/archiver.js";
import { loadArchiverConfig } from "../../archiver/src/config.js";
import type { GatewayConfig } from "../../gateway/src/config.js";
import { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { startGateway } from "./gateway.js";
import { freePort, terminate } from "./node-process.js";
import { DATABASE_URL, REDIS_URL } from "./services.js";

const run = promisify(execFile);
const PG_BIN = "/usr/lib/postgresql/15/bin";

/** A database of its own on the shared PostgreSQL, dropped by `drop`. */
export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `archive_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Runs one query against a database and closes the connection. */
export async function query<Row extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Where an in-process archiver copies from and to. */
export interface ArchiveTarget {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** The gateway's REDIS_KEY_PREFIX. */
  readonly keyPrefix: string;
}

/**
 * Starts an in-process archiver that polls every 20 ms; `env` adds or
 * overrides ARCHIVE_* variables. The caller stops it.
 */
export function startArchiver(target: ArchiveTarget, env: Record<string, string> = {}): Archiver {
  const archiver = new Archiver(
    loadArchiverConfig({
      REDIS_URL: target.redisUrl,
      DATABASE_URL: target.databaseUrl,
      REDIS_KEY_PREFIX: target.keyPrefix,
      ARCHIVE_IDLE_MS: "20",
      ...env,
    }),
  );
  archiver.start();
  return archiver;
}

/** The highest id of `subject` the archive has copied (0 before its first batch). */
export async function archivedThrough(databaseUrl: string, subject: string): Promise<number> {
  const rows = await query<{ through: string }>(
    databaseUrl,
    "SELECT archived_through AS through FROM broker_archive_progress WHERE subject = $1",
    [subject],
  );
  return Number(rows[0]?.through ?? 0);
}

/** Waits until the archive has copied `subject` through id `id` (ids only grow, so at least `id`). */
export async function waitArchivedThrough(databaseUrl: string, subject: string, id: number, timeoutMs = 15_000) {
  await eventually(
    async () => (await archivedThrough(databaseUrl, subject)) >= id,
    timeoutMs,
    `for ${subject} archived through ${id}`,
  );
}

/** A Redis gateway with an archive database of its own, an in-process archiver filling it, and a Redis client. */
export interface ArchivedGateway {
  readonly database: Awaited<ReturnType<typeof createDatabase>>;
  readonly gateway: Awaited<ReturnType<typeof startGateway>>;
  readonly archiver: Archiver;
  /** The gateway's key prefix. */
  readonly prefix: string;
  /** The gateway's key schema: a subject's stream is `keys.stream(subject)`. */
  readonly keys: RedisKeys;
  /** A plain client on the shared Redis, to look at the gateway's streams. */
  readonly redis: Redis;
  /** Stops the archiver and the gateway (removing its keys) and drops the database. */
  stop(): Promise<void>;
}

/** Starts an ArchivedGateway on the shared Redis and PostgreSQL; `archiverEnv` as for startArchiver. */
export async function startArchivedGateway(
  gatewayOverrides: Partial<GatewayConfig> = {},
  archiverEnv: Record<string, string> = {},
): Promise<ArchivedGateway> {
  const database = await createDatabase();
  const gateway = await startGateway("redis", { databaseUrl: database.url, ...gatewayOverrides });
  const prefix = gateway.config.redisKeyPrefix;
  const archiver = startArchiver({ redisUrl: REDIS_URL, databaseUrl: database.url, keyPrefix: prefix }, archiverEnv);
  const redis = new Redis(REDIS_URL, { protocol: 2 });
  return {
    database,
    gateway,
    archiver,
    prefix,
    keys: new RedisKeys(prefix),
    redis,
    stop: async () => {
      await archiver.stop();
      await gateway.stop();
      redis.disconnect();
      await database.drop();
    },
  };
}

/** Polls until `check` returns a value (not undefined/false), bounded in time. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000, what = "") {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting ${what} ${last ? String(last) : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A private redis-server (no persistence) a test may FLUSHALL or kill. */
export async function startPrivateRedis(): Promise<{ url: string; stop: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "archiver-redis-"));
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  await eventually(() => run("redis-cli", ["-p", String(port), "ping"]).then((r) => r.stdout.includes("PONG")));
  return {
    url,
    stop: async () => {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("exit", resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs a PostgreSQL server binary. initdb and postgres refuse to run as root,
 * so as root (the CI machines) they run as the `postgres` user.
 */
function pgCommand(binary: string, args: string[]) {
  const file = `${PG_BIN}/${binary}`;
  return process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", file, ...args]) : run(file, args);
}

/** A private PostgreSQL cluster (initdb) a test may stop and start again. */
export class PrivatePostgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async start(): Promise<PrivatePostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "archiver-pg-"));
    if (process.getuid?.() === 0) await run("chown", ["postgres", dir]);
    await pgCommand("initdb", ["-D", path.join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync"]);
    const cluster = new PrivatePostgres(dir, await freePort());
    await cluster.resume();
    return cluster;
  }

  async resume(): Promise<void> {
    await pgCommand("pg_ctl", [
      "-D",
      path.join(this.dir, "data"),
      "-l",
      path.join(this.dir, "log"),
      "-w",
      "-o",
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  }

  async pause(): Promise<void> {
    await pgCommand("pg_ctl", ["-D", path.join(this.dir, "data"), "-w", "-m", "fast", "stop"]);
  }

  async destroy(): Promise<void> {
    await this.pause().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The archiver as a child process (`archiver/src/main.ts` via tsx), its log lines parsed. */
export class ArchiverProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ["--import", "tsx", "archiver/src/main.ts"], {
      // METRICS_PORT 0: any free port, so archivers running side by side do not collide on 9464.
      env: {
        ...process.env,
        ARCHIVE_STATS_INTERVAL_MS: "100",
        ARCHIVE_IDLE_MS: "20",
        METRICS_PORT: "0",
        HOST: "127.0.0.1",
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buffered = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part));
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** The latest stats line (copied, conflicts, lost, ...). */
  get stats(): Record<string, number> | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = this.lines[i] as Record<string, unknown>;
      if (line.msg === "stats" || line.msg === "stopped") return line as Record<string, number>;
    }
    return undefined;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    await terminate(this.child, this.exited, 5_000);
  }
}
