import type { Redis } from "ioredis";
import type pg from "pg";
import type { StoredMessage } from "../../gateway/src/core/message.js";
import { FIRE_AND_FORGET } from "../../gateway/src/core/message.js";
import {
  decodeEntry,
  entryId,
  FIELD_PUBLISHED_AT,
  parseEntryId,
} from "../../gateway/src/engines/redis/stream-entry.js";
import type { ArchiverMetrics } from "../../gateway/src/observability/archiver-metrics.js";
import {
  advanceWatermarks,
  ensureWatermarks,
  insertGaps,
  insertRows,
  lockWatermarks,
  readWatermarks,
} from "./archive-sql.js";
import type { BatchTracer } from "./batch-tracer.js";
import type { HotWindow } from "./hot-window.js";

export interface CopierOptions {
  readonly keyPrefix: string;
  /** Most entries read (and rows written) per transaction. */
  readonly batchSize: number;
}

/** Running totals, logged by the archiver and read by tests and the benchmark. */
export interface CopyStats {
  /** Rows inserted. */
  copied: number;
  /** Entries not archived on purpose: fire-and-forget or already expired. */
  skipped: number;
  /** Rows offered that were already in PostgreSQL: must stay 0 (nothing is copied twice). */
  conflicts: number;
  /** Ids Redis trimmed before they could be copied (recorded in broker_archive_gaps). */
  lost: number;
  transactions: number;
  /** Publish-to-commit delay of the newest entry of the last batch. */
  lagMs: number;
}

export const emptyStats = (): CopyStats => ({
  copied: 0,
  skipped: 0,
  conflicts: 0,
  lost: 0,
  transactions: 0,
  lagMs: 0,
});

type XRangeReply = [id: Buffer, fields: Buffer[]][];

/** Entries read ahead per subject, with the watermark they follow. */
type Prefetched = ReadonlyMap<string, { after: number; reply: XRangeReply }>;

interface Planned {
  readonly subject: string;
  readonly count: number;
}

/**
 * Copies stream entries into PostgreSQL. Per subject, `archived_through` in
 * broker_archive_progress is the watermark: each transaction locks the
 * watermark rows of its subjects (FOR UPDATE SKIP LOCKED), reads the entries
 * after them from Redis, inserts the rows and advances the watermarks, and
 * commits all of it at once. So a kill -9 at any point either committed rows
 * and watermark together or neither, and the next run starts exactly after
 * the last committed id: nothing lost, nothing copied twice. A second
 * archiver skips the locked subjects and takes the others; when one dies its
 * connection closes, PostgreSQL drops its locks and the other takes its
 * subjects over on its next pass (no lease timeouts to tune). The primary key
 * (subject, id) with ON CONFLICT DO NOTHING is a second line of defence, and
 * counted as `conflicts` so tests can prove it never fires.
 */
export class Copier {
  /** Per subject, the last watermark seen: a hint for planning, re-read under lock. */
  private readonly watermarks = new Map<string, number>();
  /**
   * publishedAt of the oldest entry after the watermarks, as last looked at
   * (undefined: none, caught up). Only a successful look replaces it, so
   * while Redis or PostgreSQL fails the lag computed from it keeps growing.
   */
  private oldestPendingAt: number | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly pool: pg.Pool,
    private readonly hotWindow: HotWindow,
    private readonly options: CopierOptions,
    readonly stats: CopyStats = emptyStats(),
    private readonly metrics?: ArchiverMetrics,
    private readonly tracer?: BatchTracer,
  ) {}

  /**
   * Age in seconds of the oldest message not yet archived, from the last
   * look (each pass looks once, at its start): 0 when that look found
   * nothing after the watermarks.
   */
  lagSeconds(now = Date.now()): number {
    return this.oldestPendingAt === undefined ? 0 : Math.max(0, now - this.oldestPendingAt) / 1000;
  }

  /**
   * Looks at the backlog without copying, for when a pass failed before its
   * own look (PostgreSQL down at start, or while tracking a new subject).
   * Subjects whose watermark was never read from PostgreSQL count from their
   * first entry in Redis: without PostgreSQL the archiver cannot tell what is
   * archived, and overstating the lag then is the honest side to err on.
   */
  async measureLag(subjects: readonly string[]): Promise<void> {
    await this.withNewEntries(subjects);
  }

  /** One pass over the subjects; returns the number of entries it read. */
  async pass(subjects: readonly string[]): Promise<number> {
    await this.track(subjects);
    const active = await this.withNewEntries(subjects);
    const lastIds = await this.lastIds(active);
    const backlog: Planned[] = [];
    active.forEach((subject, i) => {
      const last = lastIds[i] as number;
      this.hotWindow.observeLastId(subject, last);
      const behind = last - (this.watermarks.get(subject) ?? 0);
      if (behind > 0) backlog.push({ subject, count: behind });
    });
    // Transactions of up to batchSize entries; a subject's backlog larger than
    // that is taken up to batchSize now and the rest in later passes.
    const batches: Planned[][] = [];
    let batch: Planned[] = [];
    let size = 0;
    for (const item of backlog) {
      const count = Math.min(item.count, this.options.batchSize - size);
      batch.push({ subject: item.subject, count });
      size += count;
      if (size >= this.options.batchSize) {
        batches.push(batch);
        batch = [];
        size = 0;
      }
    }
    if (batch.length > 0) batches.push(batch);
    // Read-ahead: while one batch is inserted, the next one's entries are read
    // from Redis from the watermarks last seen. Its transaction uses them only
    // if the watermark it locks is the one they were read from.
    let read = 0;
    let ahead = batches[0] ? this.readAhead(batches[0]) : undefined;
    for (let i = 0; i < batches.length; i++) {
      const current = ahead as Promise<Prefetched>;
      const next = batches[i + 1];
      ahead = next ? this.readAhead(next) : undefined;
      const plan = batches[i] as Planned[];
      const prefetched = await current;
      read += this.tracer
        ? await this.tracer.batch(plan.length, () => this.copyBatch(plan, prefetched))
        : await this.copyBatch(plan, prefetched);
    }
    return read;
  }

  /** Entries after each subject's last seen watermark; a failed read is simply not used. */
  private async readAhead(plan: readonly Planned[]): Promise<Prefetched> {
    const from = plan.map((item) => ({
      subject: item.subject,
      after: this.watermarks.get(item.subject) ?? 0,
      count: item.count,
    }));
    try {
      const replies = await this.readEntries(from);
      return new Map(from.map((f, i) => [f.subject, { after: f.after, reply: replies[i] as XRangeReply }]));
    } catch {
      return new Map();
    }
  }

  /** Creates the watermark rows of subjects seen for the first time and loads their values. */
  private async track(subjects: readonly string[]): Promise<void> {
    const fresh = subjects.filter((subject) => !this.watermarks.has(subject));
    if (fresh.length === 0) return;
    await ensureWatermarks(this.pool, fresh);
    for (const { subject, after } of await readWatermarks(this.pool, fresh)) {
      this.watermarks.set(subject, after);
      this.hotWindow.restored(subject, after);
    }
  }

  /**
   * The subjects with entries after their last seen watermark: one XREAD
   * COUNT 1 per 1000 subjects, which costs an idle subject only a key lookup
   * (its last id, through XINFO, would copy its first and last bodies).
   * The one entry read per subject is the oldest not yet archived there, so
   * the lag costs only reading its publishedAt field.
   */
  private async withNewEntries(subjects: readonly string[]): Promise<string[]> {
    const active: string[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (let start = 0; start < subjects.length; start += 1000) {
      const chunk = subjects.slice(start, start + 1000);
      const reply = (await this.redis.xreadBuffer(
        "COUNT",
        1,
        "STREAMS",
        ...chunk.map((subject) => this.options.keyPrefix + subject),
        ...chunk.map((subject) => entryId(this.watermarks.get(subject) ?? 0)),
      )) as [key: Buffer, entries: XRangeReply][] | null;
      for (const [key, entries] of reply ?? []) {
        active.push(key.toString("utf8").slice(this.options.keyPrefix.length));
        const fields = entries[0]?.[1];
        const publishedAt = fields ? publishedAtOf(fields) : 0;
        if (publishedAt > 0) oldest = Math.min(oldest, publishedAt);
      }
    }
    this.oldestPendingAt = Number.isFinite(oldest) ? oldest : undefined;
    return active;
  }

  /** The last id ever assigned per subject (survives trimming). */
  private async lastIds(subjects: readonly string[]): Promise<number[]> {
    const ids: number[] = [];
    for (let start = 0; start < subjects.length; start += 1000) {
      const pipeline = this.redis.pipeline();
      for (const subject of subjects.slice(start, start + 1000)) {
        (pipeline as unknown as { brokerLastId(key: string): void }).brokerLastId(this.options.keyPrefix + subject);
      }
      for (const [err, raw] of (await pipeline.exec()) ?? []) {
        if (err) throw err;
        ids.push(parseEntryId(raw as string));
      }
    }
    return ids;
  }

  private async copyBatch(plan: readonly Planned[], prefetched: Prefetched): Promise<number> {
    const counts = new Map(plan.map((item) => [item.subject, item.count]));
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const from = await lockWatermarks(client, [...counts.keys()]);
      const entries = await this.entriesAfter(from, counts, prefetched);
      const now = Date.now();
      const rows: StoredMessage[] = [];
      const advanced: { subject: string; through: number; publishedAt: number }[] = [];
      const gaps: { subject: string; from: number; to: number }[] = [];
      let skipped = 0;
      let read = 0;
      from.forEach(({ subject, after }, i) => {
        const messages = (entries[i] as XRangeReply).map(([id, fields]) => decodeEntry(subject, id, fields));
        const first = messages[0];
        const last = messages[messages.length - 1];
        if (!first || !last) return;
        read += messages.length;
        if (first.id > after + 1) gaps.push({ subject, from: after + 1, to: first.id - 1 });
        for (const message of messages) {
          if (message.expiresAt === FIRE_AND_FORGET || message.expiresAt <= now) skipped += 1;
          else rows.push(message);
        }
        advanced.push({ subject, through: last.id, publishedAt: last.publishedAt });
      });
      const inserted = await insertRows(client, rows);
      await insertGaps(client, gaps, now);
      await advanceWatermarks(client, advanced);
      // Subjects another archiver holds: their hints follow its commits (a plain
      // read, no lock), so this archiver's lag does not count its rows as pending.
      const lockedSubjects = new Set(from.map((f) => f.subject));
      const heldElsewhere = [...counts.keys()].filter((subject) => !lockedSubjects.has(subject));
      const elsewhere = heldElsewhere.length === 0 ? [] : await readWatermarks(client, heldElsewhere);
      await client.query("COMMIT");
      // Only after the commit: the hints, the stats and (through the hot window) trimming.
      for (const { subject, after } of from) this.watermarks.set(subject, after);
      for (const { subject, after } of elsewhere) {
        if (after > (this.watermarks.get(subject) ?? 0)) this.watermarks.set(subject, after);
      }
      for (const a of advanced) {
        this.watermarks.set(a.subject, a.through);
        this.hotWindow.committed(a.subject, a.through, a.publishedAt);
      }
      this.stats.copied += inserted;
      this.stats.conflicts += rows.length - inserted;
      this.stats.skipped += skipped;
      this.stats.lost += gaps.reduce((sum, g) => sum + (g.to - g.from + 1), 0);
      this.stats.transactions += 1;
      this.metrics?.batchRows.observe(inserted);
      this.metrics?.rowsArchived.inc(inserted);
      const newest = Math.max(0, ...advanced.map((a) => a.publishedAt));
      if (newest > 0) this.stats.lagMs = Date.now() - newest;
      return read;
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      // A client that failed mid-transaction is discarded, not reused.
      client.release(broken);
    }
  }

  /** The entries after each locked watermark: read ahead when it matched, else read now. */
  private async entriesAfter(
    from: readonly { subject: string; after: number }[],
    counts: ReadonlyMap<string, number>,
    prefetched: Prefetched,
  ): Promise<XRangeReply[]> {
    const missing = from.filter((f) => prefetched.get(f.subject)?.after !== f.after);
    const fresh = await this.readEntries(missing.map((f) => ({ ...f, count: counts.get(f.subject) as number })));
    const read = new Map(missing.map((f, i) => [f.subject, fresh[i] as XRangeReply]));
    return from.map((f) => read.get(f.subject) ?? (prefetched.get(f.subject)?.reply as XRangeReply));
  }

  private async readEntries(from: { subject: string; after: number; count: number }[]): Promise<XRangeReply[]> {
    if (from.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const { subject, after, count } of from) {
      pipeline.xrangeBuffer(this.options.keyPrefix + subject, `(${entryId(after)}`, "+", "COUNT", count);
    }
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
