import type { StoredMessage } from "./message.js";

/** One message of a batch append. */
export interface BatchItem {
  readonly body: Uint8Array;
  readonly expiresAt: number;
}

/** What `readAfter` found after a position. */
export interface ReadAfterResult {
  /** Messages with ids greater than the position, in id order, at most `limit`. */
  readonly messages: StoredMessage[];
  /**
   * True when some ids right after the position are no longer stored
   * (trimmed by retention), so a reader resuming there would skip them.
   * `messages` then start at the first id still stored (or are empty when
   * nothing after the position is stored).
   */
  readonly gap: boolean;
}

/** What an engine tells about the subjects it follows. */
export interface FeedListener {
  /** Newly stored messages of a followed subject, in id order. */
  messages(subject: string, messages: StoredMessage[]): void;
  /**
   * Storage lost a followed subject's messages (Redis restarted without
   * persistence, FLUSHALL): its last id fell below what was delivered, so
   * ids after `lastId` may be assigned again to new messages.
   */
  lost(subject: string, lastId: number): void;
}

/**
 * A storage engine: where messages live and how new ones are noticed.
 * The broker core builds every semantic (validation, expiry, fan-out,
 * slow-consumer handling) on these few operations.
 */
export interface Engine {
  /** Stores a message and returns it with its id, assigned atomically per subject. */
  append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage>;
  /**
   * Stores a message unless the same idempotency key was used on the subject
   * within `windowMs`; then returns the original id and stores nothing.
   * Atomic across every process sharing the storage.
   */
  appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: { key: string; windowMs: number },
  ): Promise<{ id: number; duplicate: boolean }>;
  /**
   * Stores several messages on one subject with consecutive ids, in order,
   * atomically (all or none).
   */
  appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]>;
  /** The stored message with this id, or undefined if it is not (or no longer) stored. */
  get(subject: string, id: number): Promise<StoredMessage | undefined>;
  /** The highest id ever assigned on the subject (0 when none). */
  lastId(subject: string): Promise<number>;
  /** Messages after `afterId`, paged by `limit`. */
  readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult>;
  /**
   * Starts delivering the subject's messages with ids greater than `afterId`
   * to the listener, until `unfollow`. Following a subject twice is a bug.
   */
  follow(subject: string, afterId: number): void;
  unfollow(subject: string): void;
  setListener(listener: FeedListener): void;
  /** Resolves once storage is reachable (or rejects after a bounded wait). */
  ready(): Promise<void>;
  /** Whether storage is reachable right now (readiness probes); absent means always. */
  isReachable?(): boolean;
  /**
   * Why storage cannot serve right now (unreachable, a replica, a cluster
   * node spoken to as standalone, live reads failing…), or undefined when it
   * can; readiness probes report it. Absent means always ready.
   */
  notReadyReason?(): string | undefined;
  close(): Promise<void>;
}
