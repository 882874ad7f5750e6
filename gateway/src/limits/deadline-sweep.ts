/**
 * Many deadlines of one length (a connection's first request, a request's
 * message) without a timer each: entries are kept in insertion order, which
 * is deadline order, and one interval expires the overdue ones. Adding and
 * removing an entry is a Map operation, cheap enough for every call.
 * An entry expires between `timeoutMs` and `timeoutMs` + one tick late.
 */
export class DeadlineSweep<K> {
  private readonly started = new Map<K, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly expire: (key: K) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.tickMs = Math.max(10, Math.min(1_000, Math.floor(timeoutMs / 4)));
  }

  get size(): number {
    return this.started.size;
  }

  add(key: K): void {
    if (this.timeoutMs <= 0) return;
    // Re-adding moves the key to the end, keeping the map in deadline order.
    this.started.delete(key);
    this.started.set(key, this.now());
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
  }

  /** True when the key was waiting (and now is not). */
  delete(key: K): boolean {
    return this.started.delete(key);
  }

  has(key: K): boolean {
    return this.started.has(key);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.started.clear();
  }

  private sweep(): void {
    const cutoff = this.now() - this.timeoutMs;
    for (const [key, startedAt] of this.started) {
      if (startedAt > cutoff) break;
      this.started.delete(key);
      this.expire(key);
    }
    if (this.started.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
