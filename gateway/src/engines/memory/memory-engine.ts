import {
  type AppendOnceResult,
  type BatchItem,
  type Engine,
  type FeedListener,
  type Idempotency,
  NO_FEED_LISTENER,
  type ReadAfterResult,
} from "../../core/engine.js";
import { resourceExhausted } from "../../core/errors.js";
import { IdFloors } from "../../core/id-floors.js";
import { FIRE_AND_FORGET, type StoredMessage } from "../../core/message.js";
import { IdempotencyKeys } from "./idempotency-keys.js";
import { IndexedHeap } from "./indexed-heap.js";
import { messageCost, subjectCost } from "./memory-costs.js";
import { SubjectLog } from "./subject-log.js";

export interface MemoryEngineOptions {
  /** What messages and subjects may cost in total (memory-costs.ts); the oldest messages go first past it. */
  readonly maxRetainedBytes: number;
  /** Messages retained per subject (like Redis MAXLEN). */
  readonly maxMessagesPerSubject: number;
  /** Subjects holding messages at once; a publish to one more is refused (RESOURCE_EXHAUSTED). */
  readonly maxSubjects: number;
  /** How long unfetchable (fire-and-forget) messages stay for slow subscribers to catch up. */
  readonly catchUpRetentionMs: number;
  /** How often expired messages are released. */
  readonly sweepIntervalMs: number;
  readonly now?: () => number;
}

export const DEFAULT_MEMORY_OPTIONS: MemoryEngineOptions = {
  maxRetainedBytes: 256 * 1024 * 1024,
  maxMessagesPerSubject: 100_000,
  maxSubjects: 100_000,
  catchUpRetentionMs: 60_000,
  sweepIntervalMs: 1_000,
};

const EMPTY_BODY = new Uint8Array(0);

/**
 * The embedded engine: one process, no external service. Retention is
 * bounded by accounted bytes (bodies and per-message and per-subject
 * overhead), by count per subject and by the number of subjects. Messages
 * are released from the head of each subject once they can no longer be
 * fetched (a long-lived message ahead of short-lived ones holds them until it
 * goes, which the byte bound caps); a subject left with no message is deleted
 * and its last id kept in a fixed-size table (IdFloors), so ids are never
 * reused. Subjects sit in two heaps, by next release time and by oldest
 * message, so the sweep and the eviction touch only what they release.
 */
export class MemoryEngine implements Engine {
  private readonly logs = new Map<string, SubjectLog>();
  private readonly floors = new IdFloors();
  private readonly byRelease = new IndexedHeap<SubjectLog>((log) => this.releaseAt(log), {
    get: (log) => log.releaseIndex,
    set: (log, index) => {
      log.releaseIndex = index;
    },
  });
  private readonly byAge = new IndexedHeap<SubjectLog>((log) => log.oldest()?.publishedAt ?? 0, {
    get: (log) => log.ageIndex,
    set: (log, index) => {
      log.ageIndex = index;
    },
  });
  private retainedBytes = 0;
  private readonly followed = new Set<string>();
  private readonly idempotencyKeys = new IdempotencyKeys();
  private listener: FeedListener = NO_FEED_LISTENER;
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly options: MemoryEngineOptions;

  constructor(options: Partial<MemoryEngineOptions> = {}) {
    this.options = { ...DEFAULT_MEMORY_OPTIONS, ...options };
    this.now = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.releaseExpired(), this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  async append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    const log = this.logFor(subject);
    const message = this.store(log, body, expiresAt);
    this.settle(log);
    return message;
  }

  async appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: Idempotency,
  ): Promise<AppendOnceResult> {
    const now = this.now();
    const prior = this.idempotencyKeys.get(subject, idempotency.key, now);
    if (prior !== undefined) {
      return { id: prior.id, duplicate: true, conflicting: prior.digest !== idempotency.digest };
    }
    const { id } = await this.append(subject, body, expiresAt);
    this.idempotencyKeys.remember(subject, idempotency.key, id, idempotency.digest, now + idempotency.windowMs);
    return { id, duplicate: false, conflicting: false };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    // One synchronous run: nothing else can interleave, so ids are consecutive.
    const log = this.logFor(subject);
    const stored = items.map((item) => this.store(log, item.body, item.expiresAt));
    this.settle(log);
    return stored;
  }

  /** The subject's log, created (above its floor) when missing, within MAX_SUBJECTS. */
  private logFor(subject: string): SubjectLog {
    let log = this.logs.get(subject);
    if (log) return log;
    if (this.logs.size >= this.options.maxSubjects) {
      throw resourceExhausted(
        `subject limit reached: ${this.logs.size} subjects hold messages and MAX_SUBJECTS is ${this.options.maxSubjects}; ` +
          "publish to an existing subject or wait for messages to expire",
      );
    }
    log = new SubjectLog(subject, this.floors.floor(subject));
    this.logs.set(subject, log);
    this.retainedBytes += subjectCost(subject);
    return log;
  }

  private store(log: SubjectLog, body: Uint8Array, expiresAt: number): StoredMessage {
    // Copy: the caller's buffer may be a view into a reused network buffer.
    const message: StoredMessage = {
      id: log.lastId + 1,
      subject: log.subject,
      body: body.byteLength === 0 ? EMPTY_BODY : Uint8Array.prototype.slice.call(body),
      publishedAt: this.now(),
      expiresAt,
    };
    const cost = messageCost(message.body);
    log.append(message, cost);
    this.retainedBytes += cost;
    if (log.size === 1) this.reschedule(log);
    while (log.size > this.options.maxMessagesPerSubject) this.dropOldest(log);
    this.evictOverBudget(log);
    if (this.followed.has(log.subject)) this.listener.messages(log.subject, [delivered(message)]);
    return message;
  }

  async get(subject: string, id: number): Promise<StoredMessage | undefined> {
    const message = this.logs.get(subject)?.get(id);
    return message && delivered(message);
  }

  async lastId(subject: string): Promise<number> {
    return this.logs.get(subject)?.lastId ?? this.floors.floor(subject);
  }

  async readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    const log = this.logs.get(subject);
    if (!log) return { messages: [], gap: afterId < this.floors.floor(subject) };
    const gap = afterId < log.lastId && afterId + 1 < log.firstId;
    return { messages: log.after(afterId, limit).map(delivered), gap };
  }

  follow(subject: string, afterId: number): void {
    this.followed.add(subject);
    const missed = this.logs.get(subject)?.after(afterId, Number.MAX_SAFE_INTEGER).map(delivered) ?? [];
    if (missed.length > 0) this.listener.messages(subject, missed);
  }

  unfollow(subject: string): void {
    this.followed.delete(subject);
  }

  setListener(listener: FeedListener): void {
    this.listener = listener;
  }

  async ready(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** What retained messages and subjects cost, as accounted against MEMORY_MAX_BYTES. */
  get bytesRetained(): number {
    return this.retainedBytes;
  }

  /** Subjects holding messages. */
  get subjectCount(): number {
    return this.logs.size;
  }

  /**
   * Releases every message that can no longer be fetched (expired, or
   * fire-and-forget past the catch-up time) from the head of its subject and
   * deletes subjects left empty. Runs every `sweepIntervalMs`; public so tests
   * with a fake clock can run it. Costs O(log subjects) per subject it visits,
   * and it visits only subjects whose oldest message is due.
   */
  releaseExpired(): void {
    const now = this.now();
    this.idempotencyKeys.forgetExpired(now);
    for (let log = this.byRelease.peek(); log && this.releaseAt(log) <= now; log = this.byRelease.peek()) {
      for (let m = log.oldest(); m && this.releaseTime(m) <= now; m = log.oldest()) this.dropOldest(log, false);
      this.settle(log);
    }
  }

  /** When the log's oldest message stops being needed. */
  private releaseAt(log: SubjectLog): number {
    const oldest = log.oldest();
    return oldest ? this.releaseTime(oldest) : 0;
  }

  private releaseTime(message: StoredMessage): number {
    return message.expiresAt === FIRE_AND_FORGET
      ? message.publishedAt + this.options.catchUpRetentionMs
      : message.expiresAt;
  }

  /** Drops the log's oldest message; `reschedule` false leaves the heaps to the caller (see settle). */
  private dropOldest(log: SubjectLog, reschedule = true): void {
    const oldest = log.oldest();
    if (!oldest) return;
    const cost = messageCost(oldest.body);
    this.retainedBytes -= cost;
    log.dropOldest(cost);
    if (reschedule && log.size > 0) this.reschedule(log);
  }

  /** Puts the log where its (new) oldest message belongs in both heaps. */
  private reschedule(log: SubjectLog): void {
    this.byRelease.upsert(log);
    this.byAge.upsert(log);
  }

  /** After a change at a log's head: deletes it when empty, else reschedules it. */
  private settle(log: SubjectLog): void {
    if (log.size > 0) {
      this.reschedule(log);
      return;
    }
    if (this.logs.get(log.subject) !== log) return;
    this.byRelease.remove(log);
    this.byAge.remove(log);
    this.logs.delete(log.subject);
    this.floors.record(log.subject, log.lastId);
    this.retainedBytes -= subjectCost(log.subject);
  }

  /** Evicts the globally oldest messages while over budget; `writing` is kept even when emptied (see settle). */
  private evictOverBudget(writing: SubjectLog): void {
    while (this.retainedBytes > this.options.maxRetainedBytes) {
      const oldest = this.byAge.peek();
      if (!oldest) return;
      this.dropOldest(oldest, false);
      if (oldest !== writing || oldest.size > 0) this.settle(oldest);
      else {
        this.byRelease.remove(oldest);
        this.byAge.remove(oldest);
      }
    }
  }
}

/**
 * What leaves the engine is a copy of the log's entry (sharing its body):
 * transports key a message's wire form to the object they are given, and a
 * copy lets that wire form die with the delivery or read, not live as long
 * as the log keeps the message.
 */
function delivered(message: StoredMessage): StoredMessage {
  return {
    id: message.id,
    subject: message.subject,
    body: message.body,
    publishedAt: message.publishedAt,
    expiresAt: message.expiresAt,
  };
}
