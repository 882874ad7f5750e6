import os from "node:os";
import { DEFAULT_LIMITS } from "./core/limits.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { DEFAULT_MEMORY_OPTIONS } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS } from "./engines/redis/redis-engine.js";
import { type Env, integer, onOff } from "./process/env.js";
import { DEFAULT_KEY_PREFIX } from "./storage/redis-keys.js";
import { type NodeAddress, parseClusterNodes } from "./storage/redis-target.js";

/** Everything the gateway reads from the environment; README lists each variable. */
export interface GatewayConfig {
  readonly host: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Unset: the embedded memory engine. */
  readonly redisUrl: string | undefined;
  /** Redis Cluster (REDIS_CLUSTER_NODES, wins over REDIS_URL): some of its nodes. */
  readonly redisClusterNodes: readonly NodeAddress[] | undefined;
  readonly redisKeyPrefix: string;
  readonly redisMaxLenPerSubject: number;
  readonly redisReaderConnections: number;
  /** Replicas that must confirm a write (WAIT) before it is acknowledged; 0: asynchronous replication. */
  readonly redisMinReplicasAck: number;
  /** PostgreSQL archive the archiver fills; unset: Fetch reads Redis only. Used with Redis only. */
  readonly databaseUrl: string | undefined;
  readonly maxSubjectBytes: number;
  readonly maxBodyBytes: number;
  readonly memoryMaxBytes: number;
  readonly memoryMaxMessagesPerSubject: number;
  readonly subscriberBufferBytes: number;
  readonly subscriberBufferMessages: number;
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
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const redisUrl = env.REDIS_URL || undefined;
  const redisClusterNodes = env.REDIS_CLUSTER_NODES?.trim() ? parseClusterNodes(env.REDIS_CLUSTER_NODES) : undefined;
  return {
    host: env.HOST || "0.0.0.0",
    grpcPort: integer(env, "GRPC_PORT", 50051),
    httpPort: integer(env, "HTTP_PORT", 8080),
    redisUrl,
    redisClusterNodes,
    redisKeyPrefix: env.REDIS_KEY_PREFIX || DEFAULT_KEY_PREFIX,
    redisMaxLenPerSubject: integer(env, "REDIS_MAXLEN", DEFAULT_REDIS_OPTIONS.maxLenPerSubject, 1),
    redisReaderConnections: integer(env, "REDIS_READERS", DEFAULT_REDIS_OPTIONS.readerConnections, 1),
    redisMinReplicasAck: integer(env, "REDIS_MIN_REPLICAS_ACK", 0, 0),
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
    subscriberBufferBytes: integer(env, "SUBSCRIBER_BUFFER_BYTES", DEFAULT_SUBSCRIPTION_OPTIONS.maxBufferedBytes, 1),
    subscriberBufferMessages: integer(
      env,
      "SUBSCRIBER_BUFFER_MESSAGES",
      DEFAULT_SUBSCRIPTION_OPTIONS.maxBufferedMessages,
      1,
    ),
    idempotencyWindowSeconds: integer(env, "IDEMPOTENCY_WINDOW_SECONDS", 120, 1),
    maxBatchMessages: integer(env, "MAX_BATCH_MESSAGES", 10_000, 1),
    maxRequestBytes: integer(env, "MAX_REQUEST_BYTES", 16 * 1024 * 1024, 1),
    workers: redisUrl || redisClusterNodes ? integer(env, "WORKERS", os.availableParallelism(), 1) : 1,
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0),
    console: onOff(env, "CONSOLE", true),
    metricsPort: integer(env, "METRICS_PORT", 9464),
    drainDelayMs: integer(env, "DRAIN_DELAY_MS", 0),
    heapGrowingPercent: integer(env, "HEAP_GROWING_PERCENT", 300),
  };
}
