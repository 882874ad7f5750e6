import { Redis, type RedisOptions } from "ioredis";
import type { Log } from "../../core/log.js";
import { type BackoffPolicy, backoffDelay } from "../../process/backoff.js";
import { LogThrottle } from "../../process/log-throttle.js";

/** Reconnect attempts, and a StreamReader's retries while Redis is unreachable. */
export const RECONNECT: BackoffPolicy = { baseMs: 50, maxMs: 1_000 };

/** Fail fast while disconnected and never replay a write whose fate is unknown. */
const FAIL_FAST: RedisOptions = {
  protocol: 2,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt) => backoffDelay(RECONNECT, attempt),
};

/**
 * A fail-fast connection of the Redis engine whose errors are logged once
 * per interval (ioredis emits one per failed reconnect attempt); callers
 * learn of them per command, classified (redis-errors.ts).
 */
export function openConnection(url: string, options: RedisOptions, log: Log): Redis {
  const connection = new Redis(url, { ...FAIL_FAST, ...options });
  const throttle = new LogThrottle(10_000);
  const name = options.connectionName;
  connection.on("error", (err: Error) => {
    const admitted = throttle.admit("error");
    if (admitted.log) log.warn({ connection: name, err, suppressed: admitted.suppressed }, "Redis connection error");
  });
  connection.on("ready", () => throttle.reset("error"));
  return connection;
}
