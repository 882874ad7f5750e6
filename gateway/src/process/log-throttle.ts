/**
 * Logs a repeated failure once per interval instead of once per occurrence:
 * the first occurrence of a key is let through at once, later ones at most
 * once per `intervalMs`, each carrying how many were held back since. A
 * Redis outage fails every read of every reader many times a second; the log
 * should say so a few times, not thousands.
 */
export class LogThrottle {
  private readonly keys = new Map<string, { lastLoggedAt: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether this occurrence of `key` should be logged; when it should, the
   * number of occurrences held back since the last line (0 for the first).
   */
  admit(key: string): { log: true; suppressed: number } | { log: false } {
    const now = this.now();
    const state = this.keys.get(key);
    if (!state) {
      // Bounded by the keys callers use (a fixed set per component).
      this.keys.set(key, { lastLoggedAt: now, suppressed: 0 });
      return { log: true, suppressed: 0 };
    }
    if (now - state.lastLoggedAt < this.intervalMs) {
      state.suppressed += 1;
      return { log: false };
    }
    const suppressed = state.suppressed;
    state.lastLoggedAt = now;
    state.suppressed = 0;
    return { log: true, suppressed };
  }

  /** Forgets `key`, so its next occurrence logs at once (the failure ended). */
  reset(key: string): void {
    this.keys.delete(key);
  }
}
