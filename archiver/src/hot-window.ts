import type { Cluster, Redis } from "ioredis";
import { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { entryId } from "../../gateway/src/storage/stream-entry.js";

export interface HotWindowOptions {
  readonly keyPrefix: string;
  /** Newest entries per subject that stay in Redis (>= 1). */
  readonly hotCount: number;
  /** Entries younger than this stay in Redis (0: no age rule). */
  readonly hotAgeMs: number;
}

interface SubjectWindow {
  /** Every id up to this one is safely in PostgreSQL. */
  archivedThrough: number;
  /** The stream's last id when last looked at. */
  lastId: number;
  /** Ids up to this one were trimmed by us already. */
  trimmedThrough: number;
  /** (id, publish time of that id) per committed batch, oldest first, for the age rule. */
  checkpoints: { id: number; publishedAt: number }[];
}

/**
 * Trims what the archiver has committed from Redis, keeping the hot window:
 * an entry stays while it is among the newest `hotCount` of its subject or
 * younger than `hotAgeMs`. Only ids at or below the committed watermark are
 * ever trimmed (XTRIM MINID after the COMMIT), so trimming never loses a
 * message. The gateways' XADD MAXLEN stays the hard bound on Redis memory.
 *
 * Ids carry no time (0-n), so the age rule uses the publish time of the last
 * entry of each committed batch: every entry up to that id was published no
 * later (one clock per gateway; skew between gateways only shifts the edge).
 * These checkpoints live in memory: after a restart, entries archived before
 * it are trimmed by age once a later batch of the subject ages out (or by the
 * count rule alone when the age rule is off).
 */
export class HotWindow {
  private readonly subjects = new Map<string, SubjectWindow>();
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: HotWindowOptions,
  ) {
    this.keys = new RedisKeys(options.keyPrefix);
  }

  observeLastId(subject: string, lastId: number): void {
    this.window(subject).lastId = lastId;
  }

  /** Records a watermark read from PostgreSQL (committed earlier, publish times unknown). */
  restored(subject: string, archivedThrough: number): void {
    const window = this.window(subject);
    window.archivedThrough = Math.max(window.archivedThrough, archivedThrough);
  }

  /** Records a committed batch: every id up to `archivedThrough` is in PostgreSQL. */
  committed(subject: string, archivedThrough: number, publishedAt: number): void {
    const window = this.window(subject);
    if (archivedThrough <= window.archivedThrough) return;
    window.archivedThrough = archivedThrough;
    window.lastId = Math.max(window.lastId, archivedThrough);
    window.checkpoints.push({ id: archivedThrough, publishedAt });
  }

  /** Trims every subject past its hot window; returns the number of entries removed. */
  async trim(now = Date.now()): Promise<number> {
    const trims: { subject: string; bound: number }[] = [];
    for (const [subject, window] of this.subjects) {
      const bound = this.trimBound(window, now);
      if (bound <= window.trimmedThrough) continue;
      trims.push({ subject, bound });
      window.trimmedThrough = bound;
      window.checkpoints = window.checkpoints.filter((checkpoint) => checkpoint.id > bound);
    }
    if (trims.length === 0) return 0;
    // One pipeline per key partition: on a cluster a pipeline must stay on one node.
    const counts = await Promise.all(
      this.keys
        .groupByPartition(trims, (trim) => trim.subject)
        .map(async (group) => {
          const pipeline = this.redis.pipeline();
          for (const { subject, bound } of group)
            pipeline.xtrim(this.keys.stream(subject), "MINID", entryId(bound + 1));
          let removed = 0;
          for (const [err, count] of (await pipeline.exec()) ?? []) {
            if (err) throw err;
            removed += Number(count);
          }
          return removed;
        }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  private trimBound(window: SubjectWindow, now: number): number {
    let bound = Math.min(window.archivedThrough, window.lastId - this.options.hotCount);
    if (this.options.hotAgeMs > 0) {
      let aged = window.trimmedThrough;
      for (const checkpoint of window.checkpoints) {
        if (checkpoint.publishedAt >= now - this.options.hotAgeMs) break;
        aged = checkpoint.id;
      }
      bound = Math.min(bound, aged);
    }
    return bound;
  }

  private window(subject: string): SubjectWindow {
    let window = this.subjects.get(subject);
    if (!window) {
      window = { archivedThrough: 0, lastId: 0, trimmedThrough: 0, checkpoints: [] };
      this.subjects.set(subject, window);
    }
    return window;
  }
}
