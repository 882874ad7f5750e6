import type { ReadAfterResult } from "../engines/engine.js";
import { asStorageError, type BrokerError, resourceExhausted } from "./errors.js";
import type { StoredMessage } from "./message.js";
import { type BrokerObserver, NO_OBSERVER } from "./observer.js";

export interface SubscriptionOptions {
  /** Bytes of bodies a subscription may hold for a slow client before it stops buffering. */
  readonly maxBufferedBytes: number;
  /** Messages a subscription may hold for a slow client before it stops buffering. */
  readonly maxBufferedMessages: number;
  /** Messages read from storage per catch-up page. */
  readonly catchUpPageSize: number;
  /** Wait before retrying a catch-up read that failed (storage down). */
  readonly retryDelayMs: number;
}

export const DEFAULT_SUBSCRIPTION_OPTIONS: SubscriptionOptions = {
  maxBufferedBytes: 1024 * 1024,
  maxBufferedMessages: 1000,
  catchUpPageSize: 200,
  retryDelayMs: 250,
};

/** Where a subscription catches up from when it is not live. */
export interface CatchUpSource {
  readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult>;
  /** The highest id the live feed has delivered for the subject. */
  liveCursor(subject: string): number;
}

/**
 * One client's view of a subject: an async iterator of messages in id order.
 *
 * While live it buffers what the fan-out offers, up to a bound. A client that
 * reads too slowly overflows the bound; the subscription then stops buffering
 * (so it never grows memory or stalls anyone else) and, once the client has
 * drained its buffer, catches up from storage starting after the last id it
 * queued, going live again when it reaches the live cursor. If storage no
 * longer holds the next id, the subscription fails with RESOURCE_EXHAUSTED.
 */
export class Subscription implements AsyncIterableIterator<StoredMessage> {
  private queue: StoredMessage[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private lastQueued: number;
  private live: boolean;
  private done = false;
  private failure: BrokerError | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly subject: string,
    /** Messages with ids above this one are delivered. */
    start: number,
    live: boolean,
    private readonly source: CatchUpSource,
    private readonly options: SubscriptionOptions,
    private readonly onClose: (subscription: Subscription) => void,
    private readonly observer: BrokerObserver = NO_OBSERVER,
  ) {
    this.lastQueued = start;
    this.live = live;
  }

  /** Called by the fan-out with new messages of the subject, in id order. */
  offer(messages: readonly StoredMessage[]): void {
    if (!this.live || this.done) return;
    for (const message of messages) {
      if (message.id <= this.lastQueued) continue;
      if (this.isFull()) {
        // Stop buffering; the consumer will catch up from storage.
        this.live = false;
        this.observer.subscriberFellBehind();
        break;
      }
      this.push(message);
    }
    this.notify();
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

  get isLive(): boolean {
    return this.live;
  }

  get bufferedMessageCount(): number {
    return this.queue.length - this.head;
  }

  async next(): Promise<IteratorResult<StoredMessage>> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (this.done) return { done: true, value: undefined };
      const message = this.shift();
      if (message) {
        this.observer.delivered(message);
        return { done: false, value: message };
      }
      if (this.live) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      } else {
        await this.catchUp();
      }
    }
  }

  async return(): Promise<IteratorResult<StoredMessage>> {
    this.finish();
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private async catchUp(): Promise<void> {
    let page: ReadAfterResult;
    try {
      page = await this.source.readAfter(this.subject, this.lastQueued, this.options.catchUpPageSize);
    } catch (err) {
      const error = asStorageError(err);
      if (error.code !== "unavailable") {
        this.fail(error);
        return;
      }
      // Storage is down: keep the subscription and retry, as the live feed does.
      await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
      return;
    }
    if (this.done) return;
    if (page.gap) {
      this.observer.subscriberTerminated();
      this.fail(
        resourceExhausted(
          `subscriber fell behind retention on subject '${this.subject}': ` +
            `messages after id ${this.lastQueued} are no longer stored`,
        ),
      );
      return;
    }
    for (const message of page.messages) {
      if (message.id > this.lastQueued) this.push(message);
    }
    // Synchronously with the check, so no live delivery can slip between them.
    if (this.lastQueued >= this.source.liveCursor(this.subject)) this.live = true;
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

  private shift(): StoredMessage | undefined {
    if (this.head >= this.queue.length) return undefined;
    const message = this.queue[this.head] as StoredMessage;
    this.head += 1;
    this.bufferedBytes -= message.body.byteLength;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    return message;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.queue = [];
    this.head = 0;
    this.bufferedBytes = 0;
    this.onClose(this);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
