import type { Cluster, Redis } from "ioredis";
import pg from "pg";
import { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { defineScripts } from "../../gateway/src/storage/redis-scripts.js";
import { connectCommands } from "../../gateway/src/storage/redis-target.js";
import { BatchTracer } from "./batch-tracer.js";
import { BulkRedis } from "./bulk-redis.js";
import type { ArchiverConfig } from "./config.js";
import { Copier } from "./copier.js";
import type { CopyStats } from "./copy-stats.js";
import { HotWindow } from "./hot-window.js";
import type { ArchiverMetrics } from "./metrics.js";
import { loadMigrations, migrate } from "./migrations.js";
import { deleteExpired } from "./retention.js";
import { StreamReads } from "./stream-reads.js";
import { SubjectDiscovery } from "./subject-discovery.js";

export type Log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

const COMMAND_TIMEOUT_MS = 10_000;

/** Retention deletes at most this many batches per round, so a backlog never starves copying. */
const RETENTION_MAX_BATCHES = 20;

/**
 * The archiver: applies the schema, then loops — discover subjects, copy
 * what is new, trim Redis to the hot window, delete expired rows — until
 * stopped. Any failure (Redis or PostgreSQL down) is retried with
 * exponential backoff; progress lives in PostgreSQL, so nothing is lost.
 */
export class Archiver {
  readonly stats: CopyStats;
  trimmed = 0;
  expiredDeleted = 0;
  private readonly redis: Redis | Cluster;
  /** The bulk reads' own connection (bulk-redis.ts); undefined: ioredis does them too. */
  private readonly bulk: BulkRedis | undefined;
  private readonly pool: pg.Pool;
  private readonly discovery: SubjectDiscovery;
  private readonly hotWindow: HotWindow;
  private readonly copier: Copier;
  private stopping = false;
  /** Passes failed in a row, and when the last pass succeeded (or the archiver started). */
  private failures = 0;
  private lastSuccessAt = Date.now();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  /**
   * `metrics`: where batches are counted (main.ts serves them on METRICS_PORT).
   * `tracing`: one span per batch (main.ts passes tracingEnabled()).
   */
  constructor(
    private readonly config: ArchiverConfig,
    private readonly log: Log = () => {},
    options: { metrics?: ArchiverMetrics; tracing?: boolean } = {},
  ) {
    this.redis = connectCommands(config.redisTarget, {
      protocol: 2,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectionName: "broker-archiver",
      retryStrategy: (attempt) => Math.min(100 * attempt, config.maxBackoffMs),
    });
    this.redis.on("error", () => {}); // surfaced by the failing pass
    defineScripts(this.redis, ["brokerLastId"]);
    this.pool = new pg.Pool({
      connectionString: config.databaseUrl,
      // One connection per batch in flight; retention and discovery use one between passes.
      max: Math.max(2, config.concurrency),
      connectionTimeoutMillis: 5_000,
      application_name: "broker-archiver",
    });
    this.pool.on("error", () => {});
    this.discovery = new SubjectDiscovery(this.redis, new RedisKeys(config.keyPrefix), config.discoveryIntervalMs);
    this.hotWindow = new HotWindow(this.redis, config);
    // On a cluster the bulk reads stay on ioredis (pipelined per partition, so per node).
    this.bulk =
      config.redisTarget.kind === "standalone"
        ? BulkRedis.forUrl(config.redisTarget.url, {
            commandTimeoutMs: COMMAND_TIMEOUT_MS,
            connectionName: "broker-archiver-bulk",
          })
        : undefined;
    this.copier = new Copier(
      new StreamReads(this.redis, new RedisKeys(config.keyPrefix), this.bulk),
      this.pool,
      this.hotWindow,
      config,
      undefined,
      options.metrics,
      options.tracing ? new BatchTracer() : undefined,
    );
    this.stats = this.copier.stats;
  }

  /**
   * Age in seconds of the oldest message not yet archived (0 when caught up);
   * see Copier.lagSeconds. While passes fail the archiver may not even be
   * able to look (Redis answering CROSSSLOT or MOVED, say), so the lag is then
   * at least the time since the last pass that succeeded: it rises instead of
   * standing still at its last reading.
   */
  lagSeconds(now = Date.now()): number {
    const looked = this.copier.lagSeconds(now);
    return this.failures > 0 ? Math.max(looked, (now - this.lastSuccessAt) / 1000) : looked;
  }

  /** Passes failed in a row (0 while they succeed). */
  get failingPasses(): number {
    return this.failures;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops after the transaction in flight (if any) and closes the connections. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.redis.disconnect();
    this.bulk?.close();
    await this.pool.end();
  }

  private async run(): Promise<void> {
    let prepared = false;
    let nextRetention = 0;
    while (!this.stopping) {
      try {
        if (!prepared) {
          await this.prepare();
          prepared = true;
        }
        const read = await this.copier.pass(await this.discovery.current());
        this.trimmed += await this.hotWindow.trim();
        if (Date.now() >= nextRetention) {
          this.expiredDeleted += await deleteExpired(
            this.pool,
            Date.now(),
            this.config.retentionBatch,
            RETENTION_MAX_BATCHES,
          );
          nextRetention = Date.now() + this.config.retentionIntervalMs;
        }
        if (this.failures > 0) this.log("info", "archiver recovered", { afterFailures: this.failures });
        this.failures = 0;
        this.lastSuccessAt = Date.now();
        // A full batch means more is waiting: go again at once.
        if (read < this.config.batchSize) await this.sleep(this.config.idleMs);
      } catch (err) {
        this.failures += 1;
        const failures = this.failures;
        const delay = Math.min(100 * 2 ** Math.min(failures, 16), this.config.maxBackoffMs);
        this.log("warn", "archiver pass failed; retrying", { error: String(err), failures, retryInMs: delay });
        // The lag must show the backlog growing while PostgreSQL is down, even
        // when the pass failed before it looked (Redis down too: keep the last look).
        await this.discovery
          .current()
          .then((subjects) => this.copier.measureLag(subjects))
          .catch(() => {});
        await this.sleep(delay);
      }
    }
  }

  private async prepare(): Promise<void> {
    const applied = await migrate(this.pool, await loadMigrations());
    const seeded = await this.discovery.seedFromKeyspace();
    this.log("info", "archiver ready", { migrationsApplied: applied, streamsFound: seeded });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
