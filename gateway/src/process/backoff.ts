/** How a retry loop waits: exponential growth from `baseMs`, capped at `maxMs`, with jitter. */
export interface BackoffPolicy {
  /** The wait after the first failure (before jitter). */
  readonly baseMs: number;
  /** The longest wait. */
  readonly maxMs: number;
}

/**
 * The wait before retry number `attempt` (1 after the first failure):
 * min(maxMs, baseMs * 2^(attempt-1)), of which a random half is taken off
 * ("equal jitter"), so processes that failed together do not retry in step,
 * yet every wait is at least half the nominal one.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempt, 1) - 1, 30);
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/**
 * Resolves after `ms`. The timer does not keep the process alive by itself:
 * a retry loop waiting out an outage must not hold up a process that is
 * otherwise done (its connections and servers keep it alive while it runs).
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
