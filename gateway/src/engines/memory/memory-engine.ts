import { FIRE_AND_FORGET, type StoredMessage } from "../../core/message.js";
import type { AppendOnceResult, BatchItem, Engine, FeedListener, Idempotency, ReadAfterResult } from "../engine.js";
import { SubjectLog } from "./subject-log.js";

export interface MemoryEngineOptions {
  /** Bodies retained across all subjects; the oldest messages go first past it. */
  readonly maxRetainedBytes: number;
  /** Messages retained per subject (like Redis MAXLEN). */
  readonly maxMessagesPerSubject: number;
  /** How long unfetchable (fire-and-forget) messages stay for slow subscribers to catch up. */
  readonly catchUpRetentionMs: number;
  /** How often expired messages are released. */
  readonly sweepIntervalMs: number;
  readonly now?: () => number;
}

export const DEFAULT_MEMORY_OPTIONS: MemoryEngineOptions = {
  maxRetainedBytes: 256 * 1024 * 1024,
  maxMessagesPerSubject: 100_000,
  catchUpRetentionMs: 60_000,
  sweepIntervalMs: 1_000,
};

/**
 * The embedded engine: one process, no external service. Retention is
 * bounded by bytes and by count per subject; a sweep releases messages from
 * the head of each subject once they can no longer be fetched (a long-lived
 * message ahead of short-lived ones holds them until it goes, which the
 * byte bound caps).
 */
export class MemoryEngine implements Engine {
  private readonly logs = new Map<string, SubjectLog>();
  /** Publish order across subjects, for evicting the globally oldest message. */
  private order: { log: SubjectLog; id: number }[] = [];
  private orderHead = 0;
  private retainedBytes = 0;
  private readonly followed = new Set<string>();
  /** subject -> idempotency key -> the id it published, the request's digest and until when it counts. */
  private readonly idempotencyKeys = new Map<string, Map<string, { id: number; digest: string; until: number }>>();
  private listener: FeedListener = { messages() {}, lost() {} };
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: MemoryEngineOptions = DEFAULT_MEMORY_OPTIONS) {
    this.now = options.now ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs);
    this.sweeper.unref();
  }

  async append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    return this.store(subject, body, expiresAt);
  }

  async appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: Idempotency,
  ): Promise<AppendOnceResult> {
    const now = this.now();
    let keys = this.idempotencyKeys.get(subject);
    const prior = keys?.get(idempotency.key);
    if (prior && prior.until > now) {
      return { id: prior.id, duplicate: true, conflicting: prior.digest !== idempotency.digest };
    }
    const { id } = this.store(subject, body, expiresAt);
    if (!keys) {
      keys = new Map();
      this.idempotencyKeys.set(subject, keys);
    }
    keys.set(idempotency.key, { id, digest: idempotency.digest, until: now + idempotency.windowMs });
    return { id, duplicate: false, conflicting: false };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    // One synchronous run: nothing else can interleave, so ids are consecutive.
    return items.map((item) => this.store(subject, item.body, item.expiresAt));
  }

  private store(subject: string, body: Uint8Array, expiresAt: number): StoredMessage {
    const log = this.log(subject);
    // Copy: the caller's buffer may be a view into a reused network buffer.
    const message: StoredMessage = {
      id: log.lastId + 1,
      subject,
      body: Uint8Array.prototype.slice.call(body),
      publishedAt: this.now(),
      expiresAt,
    };
    log.append(message);
    this.retainedBytes += body.byteLength;
    this.order.push({ log, id: message.id });
    while (log.size > this.options.maxMessagesPerSubject) this.dropOldest(log);
    this.evictOverBudget();
    if (this.followed.has(subject)) this.listener.messages(subject, [delivered(message)]);
    return message;
  }

  async get(subject: string, id: number): Promise<StoredMessage | undefined> {
    const message = this.logs.get(subject)?.get(id);
    return message && delivered(message);
  }

  async lastId(subject: string): Promise<number> {
    return this.logs.get(subject)?.lastId ?? 0;
  }

  async readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    const log = this.logs.get(subject);
    if (!log) return { messages: [], gap: false };
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

  get bytesRetained(): number {
    return this.retainedBytes;
  }

  private log(subject: string): SubjectLog {
    let log = this.logs.get(subject);
    if (!log) {
      log = new SubjectLog();
      this.logs.set(subject, log);
    }
    return log;
  }

  private dropOldest(log: SubjectLog): void {
    const oldest = log.oldest();
    if (!oldest) return;
    this.retainedBytes -= oldest.body.byteLength;
    log.dropOldest();
  }

  private evictOverBudget(): void {
    while (this.retainedBytes > this.options.maxRetainedBytes && this.orderHead < this.order.length) {
      const entry = this.order[this.orderHead] as { log: SubjectLog; id: number };
      this.orderHead += 1;
      // Entries already released by count or by the sweep are skipped.
      if (entry.log.oldest()?.id === entry.id) this.dropOldest(entry.log);
    }
    this.compactOrder();
  }

  private sweep(): void {
    const now = this.now();
    for (const [subject, keys] of this.idempotencyKeys) {
      for (const [key, entry] of keys) if (entry.until <= now) keys.delete(key);
      if (keys.size === 0) this.idempotencyKeys.delete(subject);
    }
    for (const log of this.logs.values()) {
      for (let m = log.oldest(); m && this.isReleasable(m, now); m = log.oldest()) this.dropOldest(log);
    }
    // Forget the order entries of released messages.
    while (this.orderHead < this.order.length) {
      const entry = this.order[this.orderHead] as { log: SubjectLog; id: number };
      if (entry.id >= entry.log.firstId) break;
      this.orderHead += 1;
    }
    this.compactOrder();
  }

  private isReleasable(message: StoredMessage, now: number): boolean {
    if (message.expiresAt === FIRE_AND_FORGET) return message.publishedAt + this.options.catchUpRetentionMs <= now;
    return message.expiresAt <= now;
  }

  private compactOrder(): void {
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
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
