import type { Engine } from "../engines/engine.js";
import { asStorageError, invalidArgument, unavailable } from "./errors.js";
import { Fanout } from "./fanout.js";
import {
  DEFAULT_LIMITS,
  type Limits,
  validateBody,
  validateExpiration,
  validateId,
  validateSubject,
} from "./limits.js";
import { FIRE_AND_FORGET, type StoredMessage, unfetchableReason } from "./message.js";
import { type BrokerObserver, NO_OBSERVER } from "./observer.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS, type Subscription, type SubscriptionOptions } from "./subscription.js";

export interface PublishInput {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly expirationSeconds: number;
}

export interface BrokerOptions {
  readonly limits?: Limits;
  readonly subscriptions?: SubscriptionOptions;
  /** The clock, replaceable in tests. */
  readonly now?: () => number;
  /** Told about publishes and deliveries (metrics). */
  readonly observer?: BrokerObserver;
}

/**
 * The transport-neutral broker: Publish, Subscribe and Fetch with their
 * semantics and validation, over any storage engine. Transports only
 * translate requests into these calls and BrokerErrors into statuses.
 */
export class Broker {
  readonly limits: Limits;
  private readonly fanout: Fanout;
  private readonly now: () => number;
  private readonly observer: BrokerObserver;
  private accepting = true;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly engine: Engine,
    options: BrokerOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.now = options.now ?? Date.now;
    this.observer = options.observer ?? NO_OBSERVER;
    this.fanout = new Fanout(engine, options.subscriptions ?? DEFAULT_SUBSCRIPTION_OPTIONS, this.observer);
  }

  async publish(input: PublishInput): Promise<StoredMessage> {
    this.checkAccepting();
    validateSubject(input.subject, this.limits);
    validateBody(input.body, this.limits);
    validateExpiration(input.expirationSeconds);
    const expiresAt = input.expirationSeconds === 0 ? FIRE_AND_FORGET : this.now() + input.expirationSeconds * 1000;
    this.inFlight += 1;
    try {
      const message = await this.engine.append(input.subject, input.body, expiresAt);
      this.observer.published(message);
      return message;
    } catch (err) {
      throw asStorageError(err);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  async fetch(subject: string, rawId: bigint | number): Promise<StoredMessage> {
    this.checkAccepting();
    validateSubject(subject, this.limits);
    const id = validateId(rawId);
    let message: StoredMessage | undefined;
    let lastId = 0;
    try {
      message = await this.engine.get(subject, id);
      if (!message) lastId = await this.engine.lastId(subject);
    } catch (err) {
      throw asStorageError(err);
    }
    if (!message) {
      throw invalidArgument(
        id > lastId
          ? `unknown id: no message ${id} has been published on subject '${subject}'`
          : `message ${id} on subject '${subject}' has expired or is no longer retained`,
      );
    }
    const reason = unfetchableReason(message, this.now());
    if (reason === "fire-and-forget") {
      throw invalidArgument(
        `message ${id} on subject '${subject}' was published fire-and-forget (expirationSeconds 0) and is not fetchable`,
      );
    }
    if (reason === "expired") {
      throw invalidArgument(
        `message ${id} on subject '${subject}' expired at ${new Date(message.expiresAt).toISOString()}`,
      );
    }
    return message;
  }

  /**
   * Subscribes to messages published after this call resolves. The transport
   * must send its response headers only after that, so "live once headers
   * are sent" holds.
   */
  async subscribe(subject: string): Promise<Subscription> {
    this.checkAccepting();
    validateSubject(subject, this.limits);
    let start: number;
    try {
      start = await this.engine.lastId(subject);
    } catch (err) {
      throw asStorageError(err);
    }
    this.checkAccepting();
    return this.fanout.subscribe(subject, start);
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  get subscriptionCount(): number {
    return this.fanout.subscriptionCount;
  }

  /** Subjects with at least one live subscriber in this process. */
  get subscribedSubjectCount(): number {
    return this.fanout.subjectCount;
  }

  /**
   * Drains: refuses new calls, ends every subscription normally and waits
   * (at most `timeoutMs`) for in-flight publishes before closing storage.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (!this.accepting) return;
    this.accepting = false;
    this.fanout.endAll();
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await this.engine.close();
  }

  private checkAccepting(): void {
    if (!this.accepting) throw unavailable("broker is shutting down");
  }
}
