import type { Redis } from "ioredis";
import type pg from "pg";
import type { StoredMessage } from "../../gateway/src/core/message.js";
import { FIRE_AND_FORGET } from "../../gateway/src/core/message.js";
import type { ArchiverMetrics } from "../../gateway/src/observability/archiver-metrics.js";
import {
  advanceWatermarks,
  copyRows,
  ensureWatermarks,
  insertGaps,
  insertRowsSkippingConflicts,
  isUniqueViolation,
  lockWatermarks,
  readWatermarks,
} from "./archive-sql.js";
import { type Planned, planBatches } from "./batch-plan.js";
import type { BatchTracer } from "./batch-tracer.js";
import { decodeStreamEntry } from "./entry-decoding.js";
import type { HotWindow } from "./hot-window.js";
import { StreamReads, type XRangeReply } from "./stream-reads.js";

export interface CopierOptions {
  readonly keyPrefix: string;
  /** Most entries read (and rows written) per transaction. */
  readonly batchSize: number;
  /** Batches copied at once, each a transaction on its own connection (the pool needs as many). */
  readonly concurrency: number;
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

/** Entries read ahead per subject, with the watermark they follow. */
type Prefetched = ReadonlyMap<string, { after: number; reply: XRangeReply }>;

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
 * (subject, id) is a second line of defence: a batch that meets a row already
 * there is copied again with ON CONFLICT DO NOTHING (copyTraced), and those
 * rows are counted as `conflicts` so tests can prove it never fires.
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
  private readonly reads: StreamReads;

  constructor(
    redis: Redis,
    private readonly pool: pg.Pool,
    private readonly hotWindow: HotWindow,
    private readonly options: CopierOptions,
    readonly stats: CopyStats = emptyStats(),
    private readonly metrics?: ArchiverMetrics,
    private readonly tracer?: BatchTracer,
  ) {
    this.reads = new StreamReads(redis, options.keyPrefix);
  }

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
    await this.lookForNewEntries(subjects);
  }

  /** One pass over the subjects; returns the number of entries it read. */
  async pass(subjects: readonly string[]): Promise<number> {
    await this.track(subjects);
    const active = await this.lookForNewEntries(subjects);
    const lastIds = await this.reads.lastIds(active);
    const backlog: Planned[] = [];
    active.forEach((subject, i) => {
      const last = lastIds[i] as number;
      this.hotWindow.observeLastId(subject, last);
      const behind = last - (this.watermarks.get(subject) ?? 0);
      if (behind > 0) backlog.push({ subject, count: behind });
    });
    const batches = planBatches(backlog, this.options.batchSize);
    // The batches of a pass have disjoint subjects (planBatches), so up to
    // `concurrency` of them run at once on their own connections: while one
    // waits for PostgreSQL, another is encoded or inserted on the other core.
    // Read-ahead: each worker, as it starts a batch, reads from Redis the
    // entries of the batch it will probably take next, from the watermarks
    // last seen; a transaction uses them only if the watermark it locks is
    // the one they were read from.
    const workers = Math.min(this.options.concurrency, batches.length);
    const reads: (Promise<Prefetched> | undefined)[] = [];
    const readFor = (i: number) => {
      const plan = batches[i];
      if (plan) reads[i] ??= this.readAhead(plan);
    };
    for (let i = 0; i < workers; i++) readFor(i);
    let next = 0;
    let failed = false;
    let read = 0;
    const worker = async () => {
      while (!failed && next < batches.length) {
        const i = next++;
        const prefetched = (await reads[i]) as Prefetched;
        reads[i] = undefined;
        readFor(i + workers);
        try {
          read += await this.copyTraced(batches[i] as Planned[], prefetched);
        } catch (err) {
          failed = true; // the other workers finish their transaction in flight and stop
          throw err;
        }
      }
    };
    // Every worker settles before the pass ends (a failed pass never leaves a transaction running).
    const outcomes = await Promise.allSettled(Array.from({ length: workers }, worker));
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) throw failure.reason;
    return read;
  }

  /**
   * One batch, by COPY; if a row was already in PostgreSQL (the defence
   * line above: never expected), again with ON CONFLICT DO NOTHING, which
   * counts it as a conflict.
   */
  private async copyTraced(plan: readonly Planned[], prefetched: Prefetched): Promise<number> {
    const copy = async () => {
      try {
        return await this.copyBatch(plan, prefetched, false);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        return this.copyBatch(plan, prefetched, true);
      }
    };
    return this.tracer ? this.tracer.batch(plan.length, copy) : copy();
  }

  /** Entries after each subject's last seen watermark; a failed read is simply not used. */
  private async readAhead(plan: readonly Planned[]): Promise<Prefetched> {
    const from = plan.map((item) => ({
      subject: item.subject,
      after: this.watermarks.get(item.subject) ?? 0,
      count: item.count,
    }));
    try {
      const replies = await this.reads.entries(from);
      return new Map(from.map((f, i) => [f.subject, { after: f.after, reply: replies[i] as XRangeReply }]));
    } catch {
      return new Map();
    }
  }

  /** The subjects with entries after their last seen watermark; notes the oldest one's publish time for the lag. */
  private async lookForNewEntries(subjects: readonly string[]): Promise<string[]> {
    const { active, oldest } = await this.reads.withNewEntries(subjects, (s) => this.watermarks.get(s) ?? 0);
    this.oldestPendingAt = oldest;
    return active;
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

  private async copyBatch(plan: readonly Planned[], prefetched: Prefetched, skipConflicts: boolean): Promise<number> {
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
        const messages = (entries[i] as XRangeReply).map(([id, fields]) => decodeStreamEntry(subject, id, fields));
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
      const inserted = skipConflicts ? await insertRowsSkippingConflicts(client, rows) : await copyRows(client, rows);
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
    const fresh = await this.reads.entries(missing.map((f) => ({ ...f, count: counts.get(f.subject) as number })));
    const read = new Map(missing.map((f, i) => [f.subject, fresh[i] as XRangeReply]));
    return from.map((f) => read.get(f.subject) ?? (prefetched.get(f.subject)?.reply as XRangeReply));
  }
}
