import { BrokerError, internal } from "../core/errors.js";
import type { Log } from "../core/log.js";
import { LogThrottle } from "../process/log-throttle.js";

/**
 * An adapter's knowledge of its own failures: the BrokerError (with a short,
 * safe message) for a failure it recognises, such as a lost connection,
 * or undefined for anything else, which is then a bug.
 */
export type StorageErrorClassifier = (err: unknown) => BrokerError | undefined;

/** Socket errors of a lost or refused connection. */
export const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** How often a repeated storage failure is logged. */
const LOG_INTERVAL_MS = 10_000;

/**
 * Applied at a storage adapter's boundary: every error leaving the adapter
 * becomes a BrokerError. A recognised failure (an outage: UNAVAILABLE) keeps
 * its short message; anything else becomes INTERNAL with the generic
 * "internal error", its cause kept for the log only. Each is logged here,
 * once per interval per operation (an outage fails many calls a second), with
 * the cause and the active trace id (logger.ts).
 */
export class StorageErrors {
  private readonly throttle: LogThrottle;

  constructor(
    /** Names the storage in log lines: "redis", "archive", "memory". */
    private readonly storage: string,
    private readonly classify: StorageErrorClassifier,
    private readonly log: Log,
    now: () => number = Date.now,
  ) {
    this.throttle = new LogThrottle(LOG_INTERVAL_MS, now);
  }

  /** The BrokerError for `err`, logged (see the class comment). */
  toBrokerError(err: unknown, operation: string, subject?: string): BrokerError {
    if (err instanceof BrokerError) return err;
    const known = this.classify(err);
    const error = known ?? internal(err);
    const admitted = this.throttle.admit(`${operation}:${error.code}`);
    if (admitted.log) {
      const fields = { storage: this.storage, operation, subject, suppressed: admitted.suppressed, err };
      if (known) this.log.warn({ ...fields, code: error.code, reason: error.reason }, error.message);
      else this.log.error(fields, "storage failed unexpectedly (a bug?): answered INTERNAL");
    }
    return error;
  }

  /** `promise`, rejecting only with BrokerErrors. */
  guard<T>(promise: Promise<T>, operation: string, subject?: string): Promise<T> {
    return promise.catch((err: unknown) => {
      throw this.toBrokerError(err, operation, subject);
    });
  }
}
