import type { Cluster, Redis } from "ioredis";
import type { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { entryId, FIELD_PUBLISHED_AT, parseEntryId } from "../../gateway/src/storage/stream-entry.js";
import type { BulkRedis } from "./bulk-redis.js";

/** XRANGE's reply, bytes untouched. */
export type XRangeReply = [id: Buffer, fields: Buffer[]][];

/** Subjects looked up per Redis command (XREAD) or pipeline. */
const CHUNK = 1000;

/**
 * Every command naming several subjects (XREAD), and every pipeline, covers
 * the subjects of one key partition only: on Redis Cluster a partition is
 * one hash slot (redis-keys.ts), so the command or pipeline goes to one node.
 */

/**
 * What the copier reads from Redis: which subjects have new entries, their
 * last ids, and the entries themselves. Replies stay Buffers; the copier
 * decodes only what it archives.
 */
export class StreamReads {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: RedisKeys,
    /** Where the bulk XRANGEs go when set (bulk-redis.ts); else ioredis. */
    private readonly bulk?: BulkRedis,
  ) {}

  /**
   * The subjects with entries after `after(subject)`: one XREAD COUNT 1 per
   * 1000 subjects, which costs an idle subject only a key lookup (its last
   * id, through XINFO, would copy its first and last bodies). The one entry
   * read per subject is the oldest not yet archived there, so `oldest` (its
   * publishedAt, the lag's start; undefined when none) costs only that field.
   */
  async withNewEntries(
    subjects: readonly string[],
    after: (subject: string) => number,
  ): Promise<{ active: string[]; oldest: number | undefined }> {
    const active: string[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const chunk of this.chunks(subjects, (subject) => subject)) {
      const reply = (await this.redis.xreadBuffer(
        "COUNT",
        1,
        "STREAMS",
        ...chunk.map((subject) => this.keys.stream(subject)),
        ...chunk.map((subject) => entryId(after(subject))),
      )) as [key: Buffer, entries: XRangeReply][] | null;
      for (const [key, entries] of reply ?? []) {
        active.push(this.keys.subjectOf(key.toString("utf8")));
        const fields = entries[0]?.[1];
        const publishedAt = fields ? publishedAtOf(fields) : 0;
        if (publishedAt > 0) oldest = Math.min(oldest, publishedAt);
      }
    }
    return { active, oldest: Number.isFinite(oldest) ? oldest : undefined };
  }

  /** The last id ever assigned per subject (survives trimming), in the order of `subjects`. */
  async lastIds(subjects: readonly string[]): Promise<number[]> {
    const ids = new Map<string, number>();
    const indexed = subjects.map((subject, index) => ({ subject, index }));
    await Promise.all(
      this.chunks(indexed, (item) => item.subject).map(async (chunk) => {
        const pipeline = this.redis.pipeline();
        for (const { subject } of chunk) {
          (pipeline as unknown as { brokerLastId(key: string): void }).brokerLastId(this.keys.stream(subject));
        }
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([err, raw], i) => {
          if (err) throw err;
          ids.set((chunk[i] as { subject: string }).subject, parseEntryId(raw as string));
        });
      }),
    );
    return subjects.map((subject) => ids.get(subject) as number);
  }

  /** `items` in groups of one partition each, at most CHUNK long. */
  private chunks<T>(items: readonly T[], subjectOf: (item: T) => string): T[][] {
    const chunks: T[][] = [];
    for (const group of this.keys.groupByPartition(items, subjectOf)) {
      for (let start = 0; start < group.length; start += CHUNK) chunks.push(group.slice(start, start + CHUNK));
    }
    return chunks;
  }

  /** Up to `count` entries after `after`, per subject, in one pipeline. */
  async entries(from: readonly { subject: string; after: number; count: number }[]): Promise<XRangeReply[]> {
    if (from.length === 0) return [];
    const range = ({ subject, after, count }: (typeof from)[number]) =>
      [this.keys.stream(subject), `(${entryId(after)}`, "+", "COUNT", String(count)] as const;
    if (this.bulk) {
      return (await this.bulk.call(from.map((f) => ["XRANGE", ...range(f)]))) as XRangeReply[];
    }
    const replies = new Map<(typeof from)[number], XRangeReply>();
    await Promise.all(
      this.keys
        .groupByPartition(from, (f) => f.subject)
        .map(async (group) => {
          const pipeline = this.redis.pipeline();
          for (const f of group) pipeline.xrangeBuffer(...range(f));
          ((await pipeline.exec()) ?? []).forEach(([err, reply], i) => {
            if (err) throw err;
            replies.set(group[i] as (typeof from)[number], reply as XRangeReply);
          });
        }),
    );
    return from.map((f) => replies.get(f) as XRangeReply);
  }
}

/** An entry's publishedAt field alone (the body is not decoded); 0 if it has none. */
function publishedAtOf(fields: readonly Buffer[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if ((fields[i] as Buffer).toString() === FIELD_PUBLISHED_AT) return Number((fields[i + 1] as Buffer).toString());
  }
  return 0;
}
