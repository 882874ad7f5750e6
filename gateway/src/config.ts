import os from "node:os";
import { DEFAULT_LIMITS } from "./core/limits.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { DEFAULT_MEMORY_OPTIONS } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS } from "./engines/redis/redis-engine.js";

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
  readonly maxSubjectBytes: number;
  readonly maxBodyBytes: number;
  readonly memoryMaxBytes: number;
  readonly memoryMaxMessagesPerSubject: number;
  readonly subscriberBufferBytes: number;
  readonly subscriberBufferMessages: number;
  /** Processes serving the ports (Redis engine only; the memory engine is one process). */
  readonly workers: number;
  /** How long a drain may take before open calls are cut. */
  readonly shutdownTimeoutMs: number;
  /** Prometheus /metrics port, apart from the public ones (the primary's, with workers). */
  readonly metricsPort: number;
  /** At the start of a drain: how long to stay up, reporting not ready, before refusing calls. */
  readonly drainDelayMs: number;
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

function integer(env: Env, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer >= ${min}, got '${raw}'`);
  }
  return value;
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const redisUrl = env.REDIS_URL || undefined;
  return {
    host: env.HOST || "0.0.0.0",
    grpcPort: integer(env, "GRPC_PORT", 50051),
    httpPort: integer(env, "HTTP_PORT", 8080),
    redisUrl,
    redisKeyPrefix: env.REDIS_KEY_PREFIX || DEFAULT_REDIS_OPTIONS.keyPrefix,
    redisMaxLenPerSubject: integer(env, "REDIS_MAXLEN", DEFAULT_REDIS_OPTIONS.maxLenPerSubject, 1),
    redisReaderConnections: integer(env, "REDIS_READERS", DEFAULT_REDIS_OPTIONS.readerConnections, 1),
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
    workers: redisUrl ? integer(env, "WORKERS", os.availableParallelism(), 1) : 1,
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0),
    metricsPort: integer(env, "METRICS_PORT", 9464),
    drainDelayMs: integer(env, "DRAIN_DELAY_MS", 0),
  };
}
