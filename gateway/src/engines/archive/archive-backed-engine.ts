import type { BatchItem, Engine, FeedListener, ReadAfterResult } from "../../core/engine.js";
import type { StoredMessage } from "../../core/message.js";
import type { ArchiveStore } from "./archive-store.js";
import { TrimmedIds } from "./trimmed-ids.js";

/**
 * The hot engine (Redis) in front of the PostgreSQL archive: writes and the
 * live feed go to the hot engine only; reads of ids the hot engine no longer
 * holds continue in the archive. An archive error propagates, so the broker
 * answers UNAVAILABLE rather than a wrong "unknown id".
 *
 * The archive keeps only messages that were fetchable when archived (never
 * fire-and-forget or already-expired ones), so its ids have deliberate holes;
 * what it lost (Redis trimmed it before it could be copied) is recorded
 * separately and reported as a gap.
 */
/** What the archive-backed engine needs of the hot engine: where its stored ids start and end. */
export interface HotEngine extends Engine {
  /** The first id still stored (0 when none) and the last id ever assigned (0 when none). */
  storedRange(subject: string): Promise<{ first: number; last: number }>;
}

export class ArchiveBackedEngine implements Engine {
  private readonly trimmed = new TrimmedIds();

  constructor(
    private readonly hot: HotEngine,
    private readonly archive: ArchiveStore,
  ) {}

  append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    return this.hot.append(subject, body, expiresAt);
  }

  appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: { key: string; windowMs: number },
  ): Promise<{ id: number; duplicate: boolean }> {
    return this.hot.appendOnce(subject, body, expiresAt, idempotency);
  }

  appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    return this.hot.appendBatch(subject, items);
  }

  async get(subject: string, id: number): Promise<StoredMessage | undefined> {
    // An id already known to be trimmed from Redis is read from the archive
    // first; an archived row is immutable and its id is never reused.
    const knownTrimmed = this.trimmed.has(subject, id);
    if (knownTrimmed) {
      const archived = await this.archive.get(subject, id);
      if (archived) return archived;
    }
    const hot = await this.hot.get(subject, id);
    if (hot) return hot;
    // While the stream exists, every archived id is at or below its last id:
    // an id above it was never published, which Redis alone can say (so a
    // Fetch of a future id answers "unknown id" even with the archive down).
    const { first, last } = await this.hot.storedRange(subject);
    if (last > 0 && id > last) return undefined;
    // Everything below the first stored id (all of it, in an emptied stream) has left Redis.
    if (last > 0) this.trimmed.learn(subject, first > 0 ? first - 1 : last);
    return knownTrimmed ? undefined : await this.archive.get(subject, id);
  }

  /**
   * A subject whose stream exists got its ids above the archive's (the stream
   * was created above the archive's floor), so Redis alone answers; only a
   * missing stream (new subject, or lost by Redis) needs the archive.
   */
  async lastId(subject: string): Promise<number> {
    const hot = await this.hot.lastId(subject);
    return hot > 0 ? hot : await this.archive.lastId(subject);
  }

  /**
   * Redis first; when it no longer holds the ids right after `afterId`, the
   * archive supplies them. Ids the archive skipped on purpose (fire-and-forget,
   * expired) are stepped over; ids it never saw are a gap.
   */
  async readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    const hot = await this.hot.readAfter(subject, afterId, limit);
    if (!hot.gap) return hot;
    const firstHot = hot.messages[0]?.id;
    // With no hot entry after afterId the stream is empty there (lost or fully
    // trimmed); the archive can bridge only up to the hot engine's last id.
    const beforeId = firstHot ?? (await this.hot.lastId(subject)) + 1;
    const cold = await this.archive.readRange(subject, afterId, beforeId, limit);
    if (cold.lost) return { messages: cold.messages, gap: true };
    if (cold.messages.length > 0) return { messages: cold.messages, gap: false };
    // Nothing archived between afterId and the first hot id: fine if the
    // archiver processed those ids (they were skipped on purpose) and Redis
    // holds what follows; otherwise they are gone.
    const bridged = firstHot !== undefined && cold.archivedThrough >= firstHot - 1;
    // Either way the messages are Redis's, which start at the first id still stored.
    return { messages: hot.messages, gap: !bridged };
  }

  follow(subject: string, afterId: number): void {
    this.hot.follow(subject, afterId);
  }

  unfollow(subject: string): void {
    this.hot.unfollow(subject);
  }

  setListener(listener: FeedListener): void {
    this.hot.setListener(listener);
  }

  isReachable(): boolean {
    return this.hot.isReachable?.() ?? true;
  }

  notReadyReason(): string | undefined {
    return this.hot.notReadyReason?.();
  }

  /** Only the hot engine must be up to serve: the archive may come later. */
  ready(): Promise<void> {
    return this.hot.ready();
  }

  async close(): Promise<void> {
    await Promise.all([this.hot.close(), this.archive.close()]);
  }
}
