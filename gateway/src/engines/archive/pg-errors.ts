import { type BrokerError, unavailable } from "../../core/errors.js";
import { NETWORK_CODES } from "../storage-errors.js";

/** SQLSTATEs (or their class, two characters) that mean PostgreSQL cannot serve now. */
const UNAVAILABLE_STATES: Record<string, string> = {
  "08": "archive connection failed", // connection_exception
  "53": "archive out of resources", // insufficient_resources (too many connections, disk full)
  "57P01": "archive shutting down", // admin_shutdown
  "57P02": "archive crashed", // crash_shutdown
  "57P03": "archive starting up", // cannot_connect_now
  "57014": "archive query timed out", // query_canceled (statement_timeout)
  "40001": "archive transaction conflict", // serialization_failure
  "40P01": "archive transaction conflict", // deadlock_detected
};

/** node-postgres's own messages for a connection that broke, timed out or closed. */
const CONNECTION_MESSAGES: [RegExp, string][] = [
  [/^Connection terminated/, "archive connection lost"],
  [/^Query read timeout$/, "archive query timed out"],
  [/^timeout expired$/, "archive connect timed out"],
  [/is not queryable$/, "archive connection lost"],
  // PgConnections after close(): the gateway is shutting down.
  [/^the archive's connections are closed$/, "archive closed"],
];

const storageUnavailable = (what: string, cause: unknown): BrokerError =>
  unavailable(`storage unavailable: ${what}`, { reason: "STORAGE_UNAVAILABLE", cause });

/**
 * The PostgreSQL archive's failures it recognises: a refused, lost or
 * timed-out connection and server states that pass (shutdown, start-up, too
 * many connections) become UNAVAILABLE. Anything else (a SQL error, a
 * missing column, an unexpected message) is undefined: a bug, answered
 * INTERNAL (storage-errors.ts).
 */
export function classifyPgError(err: unknown): BrokerError | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return storageUnavailable("archive unreachable", err);
    const why = UNAVAILABLE_STATES[code] ?? UNAVAILABLE_STATES[code.slice(0, 2)];
    if (why && /^[0-9A-Z]{5}$/.test(code)) return storageUnavailable(why, err);
  }
  // AggregateError: connecting to every address of a host name failed.
  if (err instanceof AggregateError && err.errors.some((inner) => classifyPgError(inner))) {
    return storageUnavailable("archive unreachable", err);
  }
  for (const [pattern, why] of CONNECTION_MESSAGES) {
    if (pattern.test(err.message)) return storageUnavailable(why, err);
  }
  return undefined;
}
