import { type BackoffPolicy, backoffDelay } from "../process/backoff.js";
import { type BrokerError, unavailable } from "./errors.js";

/** How reads that fail because storage is unavailable are retried, and for how long. */
export interface ReadRetryOptions {
  /** Waits between failed reads. */
  readonly retryBackoff: BackoffPolicy;
  /** How long reads may keep failing before the reader gives up. */
  readonly giveUpAfterMs: number;
}

/**
 * The state of one reader's failure streak: consecutive failures since when,
 * the backoff before the next attempt, and whether the bound has passed.
 */
export class ReadRetry {
  private failures = 0;
  private since: number | undefined;

  constructor(
    private readonly options: ReadRetryOptions,
    private readonly now: () => number,
  ) {}

  /** A read succeeded: the streak is over. */
  succeeded(): void {
    this.failures = 0;
    this.since = undefined;
  }

  /**
   * A read failed: how long the streak has lasted, and the wait before the
   * next attempt (never past the bound), or no wait when it is time to give up.
   */
  failed(): { failingForMs: number; retryInMs?: number } {
    const now = this.now();
    this.since ??= now;
    this.failures += 1;
    const failingForMs = now - this.since;
    const left = this.options.giveUpAfterMs - failingForMs;
    if (left <= 0) return { failingForMs };
    return { failingForMs, retryInMs: Math.min(backoffDelay(this.options.retryBackoff, this.failures), left) };
  }

  get failureCount(): number {
    return this.failures;
  }
}

/**
 * The error a subscription ends with when storage reads for it have failed
 * for `failingForMs` (past the bound): UNAVAILABLE, or the failure itself
 * when it was not an outage (INTERNAL).
 */
export function storageGaveUp(subject: string, failure: BrokerError, failingForMs: number): BrokerError {
  if (failure.code !== "unavailable") return failure;
  return unavailable(
    `storage unavailable for ${Math.round(failingForMs / 1000)} s: the subscription on subject '${subject}' ` +
      "ended; resubscribe with resumeAfterId set to the last id received",
    { reason: "STORAGE_UNAVAILABLE", metadata: { subject }, cause: failure },
  );
}
