import { type Env, integer } from "../../gateway/src/process/env.js";
import { DEFAULT_KEY_PREFIX } from "../../gateway/src/storage/redis-keys.js";
import { type RedisTarget, redisTargetFromEnv } from "../../gateway/src/storage/redis-target.js";

/** Everything the archiver reads from the environment; README "Archive (PostgreSQL)" lists each variable. */
export interface ArchiverConfig {
  /** REDIS_URL (default redis://127.0.0.1:6379), or REDIS_CLUSTER_NODES for Redis Cluster. */
  readonly redisTarget: RedisTarget;
  /** The standalone URL, or a description of the cluster (logs). */
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** Must equal the gateways' REDIS_KEY_PREFIX. */
  readonly keyPrefix: string;
  /** Most messages copied in one transaction (one multi-row insert). */
  readonly batchSize: number;
  /** Batches copied at once (different subjects), each a transaction on its own PostgreSQL connection. */
  readonly concurrency: number;
  /** Newest messages per subject kept in Redis after they are archived (at least 1). */
  readonly hotCount: number;
  /** Messages younger than this stay in Redis after they are archived (0: the count alone decides). */
  readonly hotAgeMs: number;
  /** Wait between passes that found nothing to copy. */
  readonly idleMs: number;
  /** How often the subject registry is re-read for new subjects. */
  readonly discoveryIntervalMs: number;
  /** How often expired rows are deleted from PostgreSQL, and how many per delete. */
  readonly retentionIntervalMs: number;
  readonly retentionBatch: number;
  /** Longest wait between retries while Redis or PostgreSQL is unreachable. */
  readonly maxBackoffMs: number;
  /** How often a stats line is logged (0: never, except at exit). */
  readonly statsIntervalMs: number;
  /** Port and address of the Prometheus /metrics endpoint (same variables as the gateway's). */
  readonly metricsPort: number;
  readonly metricsHost: string;
}

export function loadArchiverConfig(env: Env = process.env): ArchiverConfig {
  const redisTarget = redisTargetFromEnv(env) ?? { kind: "standalone", url: "redis://127.0.0.1:6379" };
  return {
    redisTarget,
    redisUrl: redisTarget.kind === "standalone" ? redisTarget.url : `cluster ${env.REDIS_CLUSTER_NODES}`,
    databaseUrl: env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    keyPrefix: env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX,
    batchSize: integer(env, "ARCHIVE_BATCH_SIZE", 5_000, 1),
    concurrency: integer(env, "ARCHIVE_CONCURRENCY", 2, 1),
    // At least 1: Redis then always holds a subject's last entry, which the
    // gateway's catch-up reads use to bridge from the archive back to Redis.
    hotCount: integer(env, "ARCHIVE_HOT_COUNT", 10_000, 1),
    hotAgeMs: integer(env, "ARCHIVE_HOT_AGE_MS", 60_000, 0),
    idleMs: integer(env, "ARCHIVE_IDLE_MS", 100, 1),
    discoveryIntervalMs: integer(env, "ARCHIVE_DISCOVERY_INTERVAL_MS", 1_000, 0),
    retentionIntervalMs: integer(env, "ARCHIVE_RETENTION_INTERVAL_MS", 10_000, 1),
    retentionBatch: integer(env, "ARCHIVE_RETENTION_BATCH", 5_000, 1),
    maxBackoffMs: integer(env, "ARCHIVE_MAX_BACKOFF_MS", 5_000, 1),
    statsIntervalMs: integer(env, "ARCHIVE_STATS_INTERVAL_MS", 60_000, 0),
    metricsPort: integer(env, "METRICS_PORT", 9464, 0),
    metricsHost: env.HOST || "0.0.0.0",
  };
}
