import { sleep } from "../process/backoff.js";
import type { LogThrottle } from "../process/log-throttle.js";
import type { ReadAfterResult } from "./engine.js";
import { asBrokerError, type BrokerError, resourceExhausted } from "./errors.js";
import type { Log } from "./log.js";
import { type Delivery, Gap, type StoredMessage } from "./message.js";
import type { BrokerObserver } from "./observer.js";
import { ReadRetry, type ReadRetryOptions, storageGaveUp } from "./read-retry.js";

export interface SubscriptionOptions extends ReadRetryOptions {
  /** Bytes of bodies a subscription may hold for a slow client before it stops buffering. */
  readonly maxBufferedBytes: number;
  /** Messages a subscription may hold for a slow client before it stops buffering. */
  readonly maxBufferedMessages: number;
  /** Messages read from storage per catch-up page. */
  readonly catchUpPageSize: number;
}

export const DEFAULT_SUBSCRIPTION_OPTIONS: SubscriptionOptions = {
  maxBufferedBytes: 1024 * 1024,
  maxBufferedMessages: 1000,
  catchUpPageSize: 200,
  // Storage reads for a subscription (its catch-up, or its subject's live
  // feed) that keep failing end it with UNAVAILABLE after giveUpAfterMs, so
  // no client is left open and silent.
  retryBackoff: { baseMs: 250, maxMs: 5_000 },
  giveUpAfterMs: 30_000,
};

/** What a broker's subscriptions share: metrics, the log and its throttle, the clock. */
export interface SubscriptionHooks {
  readonly observer: BrokerObserver;
  readonly log: Log;
  /** One per broker, so an outage logs a line per interval, not one per subscription. */
  readonly throttle: LogThrottle;
  readonly now: () => number;
}

/** Where a subscription catches up from when it is not live. */
export interface CatchUpSource {
  readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult>;
  lastId(subject: string): Promise<number>;
  /** The highest id the live feed has delivered for the subject. */
  liveCursor(subject: string): number;
}

/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * What a subscription does when storage no longer holds the next ids: end
 * with RESOURCE_EXHAUSTED (clients of the original contract), or yield a Gap
 * and go on (clients that resume, and so understand Gap markers).
 */
export type GapPolicy = "fail" | "mark";

export interface SubscriptionStart {
  /** Messages with ids above this one are delivered. */
  readonly after: number;
  /** False when the first messages must be read from storage (resume, or a feed already past `after`). */
  readonly live: boolean;
  readonly gaps: GapPolicy;
}

/**
 * One client's view of a subject: messages in id order, taken synchronously
 * with take() by a transport woken through onReadable(), or pulled as an
 * async iterator (built on the same two).
 *
 * While live it buffers what the fan-out offers, up to a bound. A client that
 * reads too slowly overflows the bound; the subscription then stops buffering
 * (so it never grows memory or stalls anyone else) and, once the client has
 * drained its buffer, catches up from storage starting after the last id it
 * queued, going live again when it reaches the live cursor. A resumed
 * subscription starts the same way, in catch-up. Reads are paged, so an old
 * position never loads much history at once. What storage no longer holds is
 * handled by the GapPolicy.
 */
export class Subscription implements AsyncIterableIterator<Delivery> {
  private queue: Delivery[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private lastQueued: number;
  private live: boolean;
  private done = false;
  private failure: BrokerError | undefined;
  private catchingUp = false;
  private readonly retry: ReadRetry;
  private readable: (() => void) | undefined;
  private deadline: NodeJS.Timeout | undefined;

  private readonly gaps: GapPolicy;

  constructor(
    readonly subject: string,
    start: SubscriptionStart,
    private readonly source: CatchUpSource,
    private readonly options: SubscriptionOptions,
    private readonly onClose: (subscription: Subscription) => void,
    private readonly hooks: SubscriptionHooks,
  ) {
    this.lastQueued = start.after;
    this.live = start.live;
    this.gaps = start.gaps;
    this.retry = new ReadRetry(options, hooks.now);
  }

  /** Called by the fan-out with new messages of the subject, in id order. */
  offer(messages: readonly StoredMessage[]): void {
    if (!this.live || this.done) return;
    let queued = false;
    for (const message of messages) {
      if (message.id <= this.lastQueued) continue;
      if (message.id > this.lastQueued + 1) {
        // Ids are consecutive, so the feed skipped some (Redis lost them and
        // the ids were raised past them): read storage instead, which
        // reports them as a gap rather than skipping them silently.
        this.live = false;
        queued = true;
        break;
      }
      if (this.isFull()) {
        // Stop buffering; the consumer will catch up from storage.
        this.live = false;
        this.hooks.observer.subscriberFellBehind();
        break;
      }
      this.push(message);
      queued = true;
    }
    // Also when it went to storage with nothing queued: take() starts the catch-up.
    if (queued) this.notify();
  }

  /** Ends the stream normally after nothing more (shutdown). */
  end(): void {
    this.finish();
  }

  /** Ends the stream with an error. */
  fail(error: BrokerError): void {
    if (this.done) return;
    this.failure = error;
    this.finish();
  }

  /**
   * Fails the stream with `error()` at `time` (ms since the epoch) unless it
   * ended before: a subscriber's credentials expiring. Infinity: never.
   */
  failAt(time: number, error: () => BrokerError): void {
    if (this.done || time === Number.POSITIVE_INFINITY) return;
    // setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits re-arm.
    const wait = Math.min(Math.max(0, time - Date.now()), MAX_TIMER_MS);
    this.deadline = setTimeout(() => (Date.now() >= time ? this.fail(error()) : this.failAt(time, error)), wait);
    this.deadline.unref();
  }

  get isLive(): boolean {
    return this.live;
  }

  get bufferedMessageCount(): number {
    return this.queue.length - this.head;
  }

  /** True once the subscription has ended, normally or with `error`; take() then returns nothing. */
  get ended(): boolean {
    return this.done;
  }

  /** Why the subscription ended, when it failed. */
  get error(): BrokerError | undefined {
    return this.failure;
  }

  /**
   * Sets the one consumer's wake-up, called synchronously (inside the
   * fan-out's delivery, or when a catch-up page lands) whenever take() has
   * something new to return or the subscription has ended. It may be called
   * when there is nothing new; it must not assume otherwise.
   */
  onReadable(callback: () => void): void {
    this.readable = callback;
  }

  /**
   * The next message or Gap, or undefined when none is buffered. A consumer
   * that finds nothing waits for onReadable. When the subscription is behind,
   * finding nothing starts the next catch-up read, so storage is read only as
   * fast as the consumer takes.
   */
  take(): Delivery | undefined {
    if (this.done) return undefined;
    const message = this.shift();
    if (message) {
      if (!(message instanceof Gap)) this.hooks.observer.delivered(message);
      return message;
    }
    if (!this.live && !this.catchingUp) this.startCatchUp();
    return undefined;
  }

  async next(): Promise<IteratorResult<Delivery>> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.done) return { done: true, value: undefined };
      const message = this.take();
      if (message) return { done: false, value: message };
      await new Promise<void>((resolve) => {
        this.readable = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<Delivery>> {
    this.finish();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private startCatchUp(): void {
    this.catchingUp = true;
    this.catchUp().then(
      () => {
        this.catchingUp = false;
        this.notify();
      },
      (err: unknown) => {
        this.catchingUp = false;
        this.fail(asBrokerError(err, this.hooks.log, { operation: "catch-up", subject: this.subject }));
      },
    );
  }

  /** Reads one page from storage into the queue (or waits out a storage outage). */
  private async catchUp(): Promise<void> {
    let page: ReadAfterResult;
    try {
      page = await this.source.readAfter(this.subject, this.lastQueued, this.options.catchUpPageSize);
    } catch (err) {
      await this.readFailed(err);
      return;
    }
    this.retry.succeeded();
    if (this.done) return;
    if (page.gap) {
      // Everything before the page's first message is gone.
      const lastMissing = (page.messages[0]?.id ?? (await this.source.lastId(this.subject)) + 1) - 1;
      if (this.done || !this.skipTo(lastMissing)) return;
    }
    for (const message of page.messages) {
      if (message.id <= this.lastQueued) continue;
      // Ids are consecutive per subject: a hole (the archive keeps only
      // fetchable messages) is undeliverable too, never skipped silently.
      if (message.id > this.lastQueued + 1 && !this.skipTo(message.id - 1)) return;
      this.push(message);
    }
    // Synchronously with the check, so no live delivery can slip between them.
    if (this.lastQueued >= this.source.liveCursor(this.subject)) this.live = true;
  }

  /**
   * A catch-up read failed. While storage is unavailable, waits (backing off)
   * so the next take() retries, until the failures have lasted
   * `giveUpAfterMs`; then, or at once for any other failure, ends the
   * subscription with the error.
   */
  private async readFailed(err: unknown): Promise<void> {
    const error = asBrokerError(err, this.hooks.log, { operation: "catch-up read", subject: this.subject });
    if (error.code !== "unavailable") {
      this.fail(error);
      return;
    }
    const { failingForMs, retryInMs } = this.retry.failed();
    if (retryInMs === undefined) {
      const admitted = this.hooks.throttle.admit("subscription-gave-up");
      if (admitted.log) {
        this.hooks.log.warn(
          { subject: this.subject, failingForMs, suppressed: admitted.suppressed, err: error },
          "catch-up reads kept failing: subscription ended with UNAVAILABLE",
        );
      }
      this.fail(storageGaveUp(this.subject, error, failingForMs));
      return;
    }
    const admitted = this.hooks.throttle.admit("catch-up-failing");
    if (admitted.log) {
      const failures = this.retry.failureCount;
      this.hooks.log.warn(
        { subject: this.subject, failures, retryInMs, suppressed: admitted.suppressed, err: error },
        "catch-up read failed (storage unavailable); retrying",
      );
    }
    await sleep(retryInMs);
  }

  /**
   * Passes over ids up to `lastMissing`, which storage cannot deliver, as the
   * GapPolicy says. Returns false when the subscription ended instead.
   */
  private skipTo(lastMissing: number): boolean {
    const firstMissing = this.lastQueued + 1;
    if (lastMissing < firstMissing) return true;
    if (this.gaps === "fail") {
      this.hooks.observer.subscriberTerminated();
      this.fail(
        resourceExhausted(
          `subscriber fell behind retention on subject '${this.subject}': ` +
            `messages after id ${this.lastQueued} are no longer stored`,
          { reason: "FELL_BEHIND_RETENTION", metadata: { subject: this.subject, lastId: String(this.lastQueued) } },
        ),
      );
      return false;
    }
    this.queue.push(
      new Gap(this.subject, firstMissing, lastMissing, "not stored (trimmed, expired or fire-and-forget)"),
    );
    this.lastQueued = lastMissing;
    return true;
  }

  private isFull(): boolean {
    const count = this.queue.length - this.head;
    return (
      count > 0 && (count >= this.options.maxBufferedMessages || this.bufferedBytes >= this.options.maxBufferedBytes)
    );
  }

  private push(message: StoredMessage): void {
    this.queue.push(message);
    this.bufferedBytes += message.body.byteLength;
    this.lastQueued = message.id;
  }

  private shift(): Delivery | undefined {
    if (this.head >= this.queue.length) return undefined;
    const message = this.queue[this.head] as Delivery;
    this.head += 1;
    if (!(message instanceof Gap)) this.bufferedBytes -= message.body.byteLength;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    return message;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.deadline);
    this.queue = [];
    this.head = 0;
    this.bufferedBytes = 0;
    this.onClose(this);
    this.notify();
  }

  /** Wakes the consumer. One that throws ends its own subscription, never the fan-out's delivery to others. */
  private notify(): void {
    const readable = this.readable;
    if (!readable) return;
    try {
      readable();
    } catch (err) {
      this.fail(asBrokerError(err, this.hooks.log, { operation: "subscription consumer", subject: this.subject }));
    }
  }
}
