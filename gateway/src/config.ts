import os from "node:os";
import { type AuthConfig, loadAuthConfig } from "./auth/auth-config.js";
import { DEFAULT_LIMITS } from "./core/limits.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { DEFAULT_MEMORY_OPTIONS } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS } from "./engines/redis/redis-engine.js";
import type { ClientLimitsConfig } from "./limits/client-limits.js";
import { allowedHosts, type CorsPolicy, clientLimits, corsPolicy } from "./network-config.js";
import { type PatchName, parsePatches } from "./patches/index.js";
import { type Env, integer, onOff } from "./process/env.js";
import { DEFAULT_KEY_PREFIX } from "./storage/redis-keys.js";

/** Everything the gateway reads from the environment; README lists each variable. */
export interface GatewayConfig {
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Unset: the embedded memory engine. */
  readonly redisUrl: string | undefined;
  readonly redisKeyPrefix: string;
  readonly redisMaxLenPerSubject: number;
  readonly redisReaderConnections: number;
  /** How often each process tries to sweep Redis (one at a time, by lock); 0: never. */
  readonly redisSweepIntervalMs: number;
  /** PostgreSQL archive the archiver fills; unset: Fetch reads Redis only. Used with Redis only. */
  readonly databaseUrl: string | undefined;
  readonly maxSubjectBytes: number;
  readonly maxBodyBytes: number;
  readonly memoryMaxBytes: number;
  readonly memoryMaxMessagesPerSubject: number;
  /** Subjects that may hold messages at once (memory engine: logs; Redis: streams); one more is refused. */
  readonly maxSubjects: number;
  readonly subscriberBufferBytes: number;
  readonly subscriberBufferMessages: number;
  /** How long storage reads may keep failing for a subscription before it ends with UNAVAILABLE. */
  readonly subscriberStorageTimeoutMs: number;
  /** How long an idempotency key dedupes a retried Publish. */
  readonly idempotencyWindowSeconds: number;
  /** Most messages in one PublishBatch. */
  readonly maxBatchMessages: number;
  /** Largest request the transports read (a batch); a body over MAX_BODY_BYTES is still refused. */
  readonly maxRequestBytes: number;
  /** Processes serving the ports (Redis engine only; the memory engine is one process). */
  readonly workers: number;
  /** How long a drain may take before open calls are cut. */
  readonly shutdownTimeoutMs: number;
  /** Serve the web console at `/` on the HTTP port (CONSOLE=off turns it off). */
  readonly console: boolean;
  /** Prometheus /metrics port, apart from the public ones (the primary's, with workers). */
  readonly metricsPort: number;
  /** At the start of a drain: how long to stay up, reporting not ready, before refusing calls. */
  readonly drainDelayMs: number;
  /** V8's old-generation growth between full collections, in percent (see heap-growth.ts); 0: V8's own. */
  readonly heapGrowingPercent: number;
  /** GATEWAY_PATCHES: the library patches in use (patches/index.ts; callers read the switch themselves). */
  readonly patches: readonly PatchName[];
  /** Token verification (AUTH_*); undefined: an open gateway, everyone allowed everything. */
  readonly auth: AuthConfig | undefined;
  /** Browser origins that may call the HTTP port (CORS_ORIGINS; see network-config.ts). */
  readonly cors: CorsPolicy;
  /** Host / :authority values the HTTP port answers (ALLOWED_HOSTS); undefined: any. */
  readonly allowedHosts: readonly string[] | undefined;
  /** Connections, streams, publish rate and stall timeouts per client and process. */
  readonly limits: ClientLimitsConfig;
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const redisUrl = env.REDIS_URL || undefined;
  return {
    host: env.HOST || "0.0.0.0",
    grpcPort: integer(env, "GRPC_PORT", 50051),
    httpPort: integer(env, "HTTP_PORT", 8080),
    redisUrl,
    redisKeyPrefix: env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX,
    redisMaxLenPerSubject: integer(env, "REDIS_MAXLEN", DEFAULT_REDIS_OPTIONS.maxLenPerSubject, 1),
    redisReaderConnections: integer(env, "REDIS_READERS", DEFAULT_REDIS_OPTIONS.readerConnections, 1),
    redisSweepIntervalMs: integer(env, "REDIS_SWEEP_INTERVAL_MS", DEFAULT_REDIS_OPTIONS.sweepIntervalMs, 0),
    databaseUrl: env.DATABASE_URL || undefined,
    maxSubjectBytes: integer(env, "MAX_SUBJECT_BYTES", DEFAULT_LIMITS.maxSubjectBytes, 1),
    maxBodyBytes: integer(env, "MAX_BODY_BYTES", DEFAULT_LIMITS.maxBodyBytes, 0),
    memoryMaxBytes: integer(env, "MEMORY_MAX_BYTES", DEFAULT_MEMORY_OPTIONS.maxRetainedBytes, 1),
    memoryMaxMessagesPerSubject: integer(
      env,
      "MEMORY_MAX_MESSAGES_PER_SUBJECT",
      DEFAULT_MEMORY_OPTIONS.maxMessagesPerSubject,
      1,
    ),
    maxSubjects: integer(env, "MAX_SUBJECTS", DEFAULT_MEMORY_OPTIONS.maxSubjects, 1),
    subscriberBufferBytes: integer(env, "SUBSCRIBER_BUFFER_BYTES", DEFAULT_SUBSCRIPTION_OPTIONS.maxBufferedBytes, 1),
    subscriberBufferMessages: integer(
      env,
      "SUBSCRIBER_BUFFER_MESSAGES",
      DEFAULT_SUBSCRIPTION_OPTIONS.maxBufferedMessages,
      1,
    ),
    subscriberStorageTimeoutMs: integer(
      env,
      "SUBSCRIBER_STORAGE_TIMEOUT_MS",
      DEFAULT_SUBSCRIPTION_OPTIONS.giveUpAfterMs,
      1,
    ),
    idempotencyWindowSeconds: integer(env, "IDEMPOTENCY_WINDOW_SECONDS", 120, 1),
    maxBatchMessages: integer(env, "MAX_BATCH_MESSAGES", 10_000, 1),
    maxRequestBytes: integer(env, "MAX_REQUEST_BYTES", 16 * 1024 * 1024, 1),
    workers: redisUrl ? integer(env, "WORKERS", os.availableParallelism(), 1) : 1,
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0),
    console: onOff(env, "CONSOLE", true),
    metricsPort: integer(env, "METRICS_PORT", 9464),
    drainDelayMs: integer(env, "DRAIN_DELAY_MS", 0),
    heapGrowingPercent: integer(env, "HEAP_GROWING_PERCENT", 300),
    patches: [...parsePatches(env.GATEWAY_PATCHES)],
    // Before the keys are loaded, so CORS_ORIGINS='*' with auth on is named as such.
    cors: corsPolicy(env),
    allowedHosts: allowedHosts(env),
    limits: clientLimits(env),
    auth: loadAuthConfig(env),
  };
}
