import { resourceExhausted } from "../core/errors.js";

export interface PublishRateOptions {
  /** Messages per second each principal may publish; 0: no limit. */
  readonly messagesPerSecond: number;
  /** Messages a principal may publish at once after being idle (the bucket's size). */
  readonly burst: number;
  /** The clock in milliseconds, replaceable in tests. */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** How many idle principals' buckets are kept before full ones are dropped (they hold nothing). */
const SWEEP_AT = 10_000;

/**
 * An in-gateway publish rate per principal: a token bucket each, refilled at
 * `messagesPerSecond` up to `burst`. Publish takes 1 token, PublishBatch one
 * per message, all or nothing. A principal is an opaque key the transport
 * supplies (the client's address until authentication gives a subject).
 * Per process: with several workers each enforces its own share.
 */
export class PublishRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly now: () => number;

  constructor(private readonly options: PublishRateOptions) {
    this.perMs = options.messagesPerSecond / 1000;
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.messagesPerSecond > 0;
  }

  /** Takes `count` tokens for `principal` or throws RESOURCE_EXHAUSTED saying when to retry. */
  take(principal: string, count: number): void {
    if (!this.enabled) return;
    const { burst, messagesPerSecond } = this.options;
    if (count > burst) {
      throw resourceExhausted(
        `a batch of ${count} messages is larger than the publish burst of ${burst} (PUBLISH_BURST): split it`,
      );
    }
    const now = this.now();
    let bucket = this.buckets.get(principal);
    if (!bucket) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now);
      bucket = { tokens: burst, updatedAt: now };
      this.buckets.set(principal, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
      bucket.updatedAt = now;
    }
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      return;
    }
    const retryMs = Math.ceil((count - bucket.tokens) / this.perMs);
    throw resourceExhausted(
      `publish rate limit: at most ${messagesPerSecond} messages/s with bursts of ${burst} per client ` +
        `(PUBLISH_RATE_LIMIT); retry in ${retryMs} ms`,
    );
  }

  /** Drops buckets that have refilled: a fresh bucket is the same. */
  private sweep(now: number): void {
    const { burst } = this.options;
    for (const [principal, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.perMs >= burst) this.buckets.delete(principal);
    }
  }
}
