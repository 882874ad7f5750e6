import type { Redis } from "ioredis";
import type { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { entryId, FIELD_PUBLISHED_AT, parseEntryId } from "../../gateway/src/storage/stream-entry.js";

/** XRANGE's reply, bytes untouched. */
export type XRangeReply = [id: Buffer, fields: Buffer[]][];

/** Subjects looked up per Redis command (XREAD) or pipeline. */
const CHUNK = 1000;

/**
 * What the copier reads from Redis: which subjects have new entries, their
 * last ids, and the entries themselves. Replies stay Buffers; the copier
 * decodes only what it archives.
 */
export class StreamReads {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
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
    for (let start = 0; start < subjects.length; start += CHUNK) {
      const chunk = subjects.slice(start, start + CHUNK);
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

  /** The last id ever assigned per subject (survives trimming). */
  async lastIds(subjects: readonly string[]): Promise<number[]> {
    const ids: number[] = [];
    for (let start = 0; start < subjects.length; start += CHUNK) {
      const pipeline = this.redis.pipeline();
      for (const subject of subjects.slice(start, start + CHUNK)) {
        (pipeline as unknown as { brokerLastId(key: string): void }).brokerLastId(this.keys.stream(subject));
      }
      for (const [err, raw] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        ids.push(parseEntryId(raw as string));
      }
    }
    return ids;
  }

  /**
   * Up to `count` entries after `after`, per subject, in one pipeline. Decoding
   * these replies is most of the archiver's CPU; node-redis decodes them
   * faster, a cost accepted for one Redis client (docs/patches.md).
   */
  async entries(from: readonly { subject: string; after: number; count: number }[]): Promise<XRangeReply[]> {
    if (from.length === 0) return [];
    const range = ({ subject, after, count }: (typeof from)[number]) =>
      [this.keys.stream(subject), `(${entryId(after)}`, "+", "COUNT", String(count)] as const;
    const pipeline = this.redis.pipeline();
    for (const f of from) pipeline.xrangeBuffer(...range(f));
    return ((await pipeline.exec()) ?? []).map(([err, reply]) => {
      if (err) throw err;
      return reply as XRangeReply;
    });
  }
}

/** An entry's publishedAt field alone (the body is not decoded); 0 if it has none. */
function publishedAtOf(fields: readonly Buffer[]): number {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if ((fields[i] as Buffer).toString() === FIELD_PUBLISHED_AT) return Number((fields[i + 1] as Buffer).toString());
  }
  return 0;
}
