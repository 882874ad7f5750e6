import { ANONYMOUS, type Caller } from "./caller.js";
import type { Engine } from "./engine.js";
import {
  alreadyExists,
  asBrokerError,
  BrokerError,
  invalidArgument,
  outOfRange,
  permissionDenied,
  unauthenticated,
  unavailable,
} from "./errors.js";
import { Fanout } from "./fanout.js";
import { requestDigest, scopedIdempotencyKey } from "./idempotency.js";
import {
  DEFAULT_LIMITS,
  type Limits,
  validateBody,
  validateExpiration,
  validateId,
  validateIdempotencyKey,
  validateResumePosition,
  validateSubject,
} from "./limits.js";
import { type Log, SILENT_LOG } from "./log.js";
import { FIRE_AND_FORGET, type StoredMessage, unfetchableReason } from "./message.js";
import { type BrokerObserver, NO_OBSERVER } from "./observer.js";
import { storeShares } from "./subject-batches.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS, type Subscription, type SubscriptionOptions } from "./subscription.js";

export interface PublishInput {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly expirationSeconds: number;
  /** Empty or absent: no deduplication. */
  readonly idempotencyKey?: string;
}

export interface Published {
  readonly id: number;
  /** True when an earlier publish with the same idempotency key is answered again. */
  readonly duplicate: boolean;
}

export interface BrokerOptions {
  readonly limits?: Limits;
  /** Most messages one PublishBatch call may carry. */
  readonly maxBatchMessages?: number;
  /** How long an idempotency key dedupes retries. */
  readonly idempotencyWindowMs?: number;
  readonly subscriptions?: SubscriptionOptions;
  /** The clock, replaceable in tests. */
  readonly now?: () => number;
  /** Told about publishes and deliveries (metrics). */
  readonly observer?: BrokerObserver;
  /** Where bugs and subscriptions ended by storage failures are logged. */
  readonly log?: Log;
}

/**
 * The transport-neutral broker: Publish, Subscribe and Fetch with their
 * semantics, validation and permission checks, over any storage engine.
 * Transports only translate requests (and credentials, into a Caller) into
 * these calls and BrokerErrors into statuses. A call without a Caller is the
 * anonymous one of an open gateway.
 */
export class Broker {
  readonly limits: Limits;
  readonly maxBatchMessages: number;
  readonly idempotencyWindowMs: number;
  private readonly fanout: Fanout;
  private readonly now: () => number;
  private readonly observer: BrokerObserver;
  private readonly log: Log;
  private accepting = true;
  private inFlight = 0;
  private idle: (() => void) | undefined;

  constructor(
    private readonly engine: Engine,
    options: BrokerOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.now = options.now ?? Date.now;
    this.maxBatchMessages = options.maxBatchMessages ?? 10_000;
    this.idempotencyWindowMs = options.idempotencyWindowMs ?? 120_000;
    this.observer = options.observer ?? NO_OBSERVER;
    this.log = options.log ?? SILENT_LOG;
    this.fanout = new Fanout(engine, options.subscriptions ?? DEFAULT_SUBSCRIPTION_OPTIONS, {
      observer: this.observer,
      log: this.log,
      now: this.now,
    });
  }

  async publish(input: PublishInput, caller: Caller = ANONYMOUS): Promise<Published> {
    this.checkAccepting();
    validateSubject(input.subject, this.limits);
    validateBody(input.body, this.limits);
    validateExpiration(input.expirationSeconds);
    const { subject, body, idempotencyKey } = input;
    if (!caller.mayPublish(subject)) throw publishDenied(subject);
    const expiresAt = this.expiresAt(input.expirationSeconds);
    if (!idempotencyKey) {
      const message = await this.tracked(() => this.engine.append(subject, body, expiresAt));
      this.observer.published(1);
      return { id: message.id, duplicate: false };
    }
    validateIdempotencyKey(idempotencyKey);
    const idempotency = {
      key: scopedIdempotencyKey(caller.id, idempotencyKey),
      windowMs: this.idempotencyWindowMs,
      digest: requestDigest(body, input.expirationSeconds),
    };
    const published = await this.tracked(() => this.engine.appendOnce(subject, body, expiresAt, idempotency));
    if (published.conflicting) {
      throw alreadyExists(
        `idempotencyKey was already used on subject '${subject}' for a different request (message ${published.id}); use a new key for a new message`,
      );
    }
    if (!published.duplicate) this.observer.published(1);
    return { id: published.id, duplicate: published.duplicate };
  }

  /**
   * Publishes many messages and returns them in request order. Every message
   * is validated before anything is stored; each subject's messages get
   * consecutive ids in request order, atomically. A subject the caller may
   * not publish to refuses the whole batch before anything is stored. Across
   * subjects a batch is not atomic: a storage failure rejects the call with an
   * error naming the messages that were stored (see subject-batches.ts).
   */
  async publishBatch(inputs: readonly PublishInput[], caller: Caller = ANONYMOUS): Promise<StoredMessage[]> {
    this.checkAccepting();
    if (inputs.length === 0) throw invalidArgument("a batch needs at least one message", { reason: "INVALID_BATCH" });
    if (inputs.length > this.maxBatchMessages) {
      throw invalidArgument(`a batch carries at most ${this.maxBatchMessages} messages, got ${inputs.length}`, {
        reason: "INVALID_BATCH",
      });
    }
    const bySubject = new Map<string, { index: number; body: Uint8Array; expiresAt: number }[]>();
    inputs.forEach((input, index) => {
      try {
        validateSubject(input.subject, this.limits);
        validateBody(input.body, this.limits);
        validateExpiration(input.expirationSeconds);
        if (input.idempotencyKey) {
          throw invalidArgument("idempotency keys are honoured by Publish only; send keyed messages one by one", {
            reason: "INVALID_BATCH",
          });
        }
      } catch (err) {
        if (!(err instanceof BrokerError)) throw err;
        throw invalidArgument(`message ${index}: ${err.message}`, {
          reason: err.reason,
          metadata: { ...err.metadata, index: String(index) },
        });
      }
      if (!caller.mayPublish(input.subject)) throw publishDenied(input.subject, index);
      let group = bySubject.get(input.subject);
      if (!group) {
        group = [];
        bySubject.set(input.subject, group);
      }
      group.push({ index, body: input.body, expiresAt: this.expiresAt(input.expirationSeconds) });
    });
    const results: StoredMessage[] = new Array(inputs.length);
    const shares = [...bySubject].map(([subject, items]) => ({ subject, items }));
    const appendShares = this.engine.appendShares?.bind(this.engine);
    await this.tracked(() =>
      storeShares(shares, (subject, items) => this.engine.appendBatch(subject, items), results, this.log, appendShares),
    );
    this.observer.published(results.length);
    return results;
  }

  async fetch(subject: string, rawId: bigint | number, caller: Caller = ANONYMOUS): Promise<StoredMessage> {
    this.checkAccepting();
    validateSubject(subject, this.limits);
    if (!caller.maySubscribe(subject)) throw subscribeDenied(subject, "fetch from");
    const id = validateId(rawId);
    let message: StoredMessage | undefined;
    let lastId = 0;
    try {
      message = await this.engine.get(subject, id);
      if (!message) lastId = await this.engine.lastId(subject);
    } catch (err) {
      throw asBrokerError(err, this.log, { operation: "fetch", subject, id });
    }
    const metadata = { subject, id: String(id) };
    if (!message) {
      if (id > lastId) {
        throw invalidArgument(`unknown id: no message ${id} has been published on subject '${subject}'`, {
          reason: "UNKNOWN_ID",
          metadata,
        });
      }
      // Storage no longer tells expired from trimmed once the entry is gone.
      throw invalidArgument(`message ${id} on subject '${subject}' has expired or is no longer retained`, {
        reason: "NO_LONGER_RETAINED",
        metadata,
      });
    }
    const reason = unfetchableReason(message, this.now());
    if (reason === "fire-and-forget") {
      throw invalidArgument(
        `message ${id} on subject '${subject}' was published fire-and-forget (expirationSeconds 0) and is not fetchable`,
        { reason: "FIRE_AND_FORGET", metadata },
      );
    }
    if (reason === "expired") {
      const expiredAt = new Date(message.expiresAt).toISOString();
      throw invalidArgument(`message ${id} on subject '${subject}' expired at ${expiredAt}`, {
        reason: "EXPIRED",
        metadata: { ...metadata, expiredAt },
      });
    }
    return message;
  }

  /**
   * Subscribes to messages published after this call resolves. The transport
   * must send its response headers only after that, so "live once headers
   * are sent" holds. With `resumeAfterId`, every stored message after that id
   * is replayed first (paged), then the stream continues live with no gap or
   * duplicate at the seam; ids no longer stored arrive as Gap markers. The
   * stream ends with UNAUTHENTICATED when the caller's credentials expire.
   */
  async subscribe(
    subject: string,
    options: { resumeAfterId?: bigint | number } = {},
    caller: Caller = ANONYMOUS,
  ): Promise<Subscription> {
    this.checkAccepting();
    validateSubject(subject, this.limits);
    if (!caller.maySubscribe(subject)) throw subscribeDenied(subject, "subscribe to");
    const resumeAfterId =
      options.resumeAfterId === undefined ? undefined : validateResumePosition(options.resumeAfterId);
    let tail: number;
    try {
      tail = await this.engine.lastId(subject);
    } catch (err) {
      throw asBrokerError(err, this.log, { operation: "subscribe", subject });
    }
    if (resumeAfterId !== undefined && resumeAfterId > tail) {
      throw outOfRange(`cannot resume after id ${resumeAfterId}: the last id on subject '${subject}' is ${tail}`, {
        reason: "RESUME_BEYOND_LAST_ID",
        metadata: { subject, lastId: String(tail) },
      });
    }
    this.checkAccepting();
    const subscription =
      resumeAfterId === undefined
        ? this.fanout.subscribe(subject, tail, tail, "fail")
        : this.fanout.subscribe(subject, resumeAfterId, tail, "mark");
    subscription.failAt(caller.expiresAt, () =>
      unauthenticated(`token expired at ${new Date(caller.expiresAt).toISOString()}; subscribe again with a new token`),
    );
    return subscription;
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

  private expiresAt(expirationSeconds: number): number {
    return expirationSeconds === 0 ? FIRE_AND_FORGET : this.now() + expirationSeconds * 1000;
  }

  /** Runs a storage write that a drain must wait for. */
  private async tracked<T>(write: () => Promise<T>): Promise<T> {
    this.inFlight += 1;
    try {
      return await write();
    } catch (err) {
      throw asBrokerError(err, this.log, { operation: "publish" });
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  private checkAccepting(): void {
    if (!this.accepting) throw unavailable("broker is shutting down", { reason: "SHUTTING_DOWN" });
  }
}

function publishDenied(subject: string, index?: number): BrokerError {
  const where = index === undefined ? "" : `message ${index}: `;
  return permissionDenied(`${where}not allowed to publish to subject '${subject}'`);
}

function subscribeDenied(subject: string, action: string): BrokerError {
  return permissionDenied(`not allowed to ${action} subject '${subject}' (needs subscribe permission)`);
}
