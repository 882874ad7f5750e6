import { type BrokerError, resourceExhausted, unavailable } from "../../core/errors.js";
import { NETWORK_CODES } from "../storage-errors.js";

/** ioredis's own messages for a command it could not send or that got no answer. */
const CONNECTION_LOST = new Set([
  "Connection is closed.",
  "Stream isn't writeable and enableOfflineQueue options is false",
]);

/**
 * Redis error replies (their first word) that mean Redis cannot serve now,
 * not that the command was wrong: retrying later (or elsewhere) can succeed.
 */
const UNAVAILABLE_REPLIES: Record<string, string> = {
  LOADING: "Redis is loading its dataset",
  READONLY: "Redis is a read-only replica",
  MASTERDOWN: "Redis replica lost its master",
  CLUSTERDOWN: "Redis cluster is down",
  TRYAGAIN: "Redis cluster is moving slots",
  // A cluster node answering a client that is not in cluster mode.
  MOVED: "Redis is a cluster node and cluster mode is not configured",
  ASK: "Redis is a cluster node and cluster mode is not configured",
  BUSY: "Redis is busy running a script",
  NOREPLICAS: "Redis has too few replicas",
};

const storageUnavailable = (what: string, cause: unknown): BrokerError =>
  unavailable(`storage unavailable: ${what}`, { reason: "STORAGE_UNAVAILABLE", cause });

/**
 * The Redis engine's failures it recognises: a lost, refused or timed-out
 * connection and replies that say Redis cannot serve right now become
 * UNAVAILABLE; a full Redis (OOM) RESOURCE_EXHAUSTED. Anything else
 * (WRONGTYPE, a script error, a reply the engine cannot parse) is undefined:
 * a bug, answered INTERNAL (storage-errors.ts).
 */
export function classifyRedisError(err: unknown): BrokerError | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return storageUnavailable("Redis unreachable", err);
  if (err.name === "MaxRetriesPerRequestError" || CONNECTION_LOST.has(err.message)) {
    return storageUnavailable("Redis connection lost", err);
  }
  if (err.message === "Command timed out") return storageUnavailable("Redis command timed out", err);
  if (err.name !== "ReplyError") return undefined;
  const word = err.message.split(" ", 1)[0] ?? "";
  const unavailableWhy = UNAVAILABLE_REPLIES[word];
  if (unavailableWhy) return storageUnavailable(unavailableWhy, err);
  if (word === "OOM") {
    return resourceExhausted("storage full: Redis is out of memory (maxmemory)", { reason: "STORAGE_FULL" });
  }
  return undefined;
}
