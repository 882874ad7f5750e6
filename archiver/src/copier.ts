import type pg from "pg";
import {
  advanceWatermarks,
  copyTuples,
  ensureWatermarks,
  insertGaps,
  insertRowsSkippingConflicts,
  isUniqueViolation,
  lockWatermarks,
  readWatermarks,
} from "./archive-sql.js";
import { type Planned, planBatches } from "./batch-plan.js";
import { runBatches } from "./batch-queue.js";
import type { BatchTracer } from "./batch-tracer.js";
import { type CopyStats, emptyStats } from "./copy-stats.js";
import type { HotWindow } from "./hot-window.js";
import type { ArchiverMetrics } from "./metrics.js";
import { type PreparedEntries, prepareEntries } from "./prepared-entries.js";
import type { StreamReads, XRangeReply } from "./stream-reads.js";

export interface CopierOptions {
  /** Most entries read (and rows written) per transaction. */
  readonly batchSize: number;
  /** Batches copied at once, each a transaction on its own connection (the pool needs as many). */
  readonly concurrency: number;
}

/** Entries read in a batch, and the watermarks it committed. */
interface CopiedBatch {
  readonly read: number;
  readonly advanced: readonly { subject: string; through: number }[];
}

/**
 * A pass queues a subject's next batch only this long after its start, so a
 * long backlog still comes back to the archiver's loop (trim Redis, find new
 * subjects, delete expired rows, look at the lag) about once a second.
 */
const PASS_BUDGET_MS = 1_000;

/** Entries read ahead per subject, prepared, with the watermark they follow. */
type Prefetched = ReadonlyMap<string, PreparedEntries>;

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

  constructor(
    private readonly reads: StreamReads,
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
    await this.lookForNewEntries(subjects);
  }

  /** One pass over the subjects; returns the number of entries it read. */
  async pass(subjects: readonly string[]): Promise<number> {
    await this.track(subjects);
    const active = await this.lookForNewEntries(subjects);
    const lastIds = await this.reads.lastIds(active);
    const backlog: Planned[] = [];
    const lastSeen = new Map<string, number>();
    active.forEach((subject, i) => {
      const last = lastIds[i] as number;
      lastSeen.set(subject, last);
      this.hotWindow.observeLastId(subject, last);
      const behind = last - (this.watermarks.get(subject) ?? 0);
      if (behind > 0) backlog.push({ subject, count: behind });
    });
    // The batches of a pass have disjoint subjects (planBatches), so up to
    // `concurrency` of them run at once on their own connections: while one
    // waits for PostgreSQL, another is decoded or encoded. A committed batch
    // queues its subjects' next part of the backlog seen at the pass's start,
    // from the watermark it just committed (so its read-ahead is exact).
    const deadline = performance.now() + PASS_BUDGET_MS;
    const { batchSize } = this.options;
    return runBatches(
      planBatches(backlog, batchSize),
      this.options.concurrency,
      (plan) => this.readAhead(plan),
      async (plan, prefetched) => {
        const { read, advanced } = await this.copyTraced(plan, prefetched);
        const next: Planned[][] = [];
        for (const { subject, through } of performance.now() < deadline ? advanced : []) {
          const left = (lastSeen.get(subject) ?? 0) - through;
          if (left > 0) next.push([{ subject, count: Math.min(left, batchSize) }]);
        }
        return { read, next };
      },
    );
  }

  /**
   * One batch, by COPY; if a row was already in PostgreSQL (the defence
   * line above: never expected), again with ON CONFLICT DO NOTHING, which
   * counts it as a conflict.
   */
  private async copyTraced(plan: readonly Planned[], prefetched: Prefetched): Promise<CopiedBatch> {
    const copy = async () => {
      try {
        return await this.copyBatch(plan, prefetched, false);
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        return this.copyBatch(plan, prefetched, true);
      }
    };
    return this.tracer ? this.tracer.batch(plan.length, copy, (copied) => copied.read) : copy();
  }

  /** Entries after each subject's last seen watermark, prepared; a failed read is simply not used. */
  private async readAhead(plan: readonly Planned[]): Promise<Prefetched> {
    const from = plan.map((item) => ({
      subject: item.subject,
      after: this.watermarks.get(item.subject) ?? 0,
      count: item.count,
    }));
    try {
      const replies = await this.reads.entries(from);
      const now = Date.now();
      return new Map(
        from.map((f, i) => [f.subject, prepareEntries(f.subject, f.after, replies[i] as XRangeReply, now)]),
      );
    } catch {
      // Only a prefetch: the batch reads its entries itself, and reports a failure there.
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

  private async copyBatch(
    plan: readonly Planned[],
    prefetched: Prefetched,
    skipConflicts: boolean,
  ): Promise<CopiedBatch> {
    const counts = new Map(plan.map((item) => [item.subject, item.count]));
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const from = await lockWatermarks(client, [...counts.keys()]);
      const parts = await this.entriesAfter(from, counts, prefetched, skipConflicts);
      const now = Date.now();
      const advanced: { subject: string; through: number; publishedAt: number }[] = [];
      const gaps: { subject: string; from: number; to: number }[] = [];
      let rows = 0;
      let skipped = 0;
      let read = 0;
      for (const part of parts) {
        if (part.firstId === undefined || part.lastId === undefined) continue;
        read += part.read;
        skipped += part.skipped;
        rows += part.rows;
        const { subject, after, firstId, lastId } = part;
        if (firstId > after + 1) gaps.push({ subject, from: after + 1, to: firstId - 1 });
        advanced.push({ subject, through: lastId, publishedAt: part.lastPublishedAt });
      }
      const inserted = await writeRows(client, parts, skipConflicts);
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
      this.stats.conflicts += rows - inserted;
      this.stats.skipped += skipped;
      this.stats.lost += gaps.reduce((sum, g) => sum + (g.to - g.from + 1), 0);
      this.stats.transactions += 1;
      this.metrics?.batchRows.observe(inserted);
      this.metrics?.rowsArchived.inc(inserted);
      const newest = Math.max(0, ...advanced.map((a) => a.publishedAt));
      if (newest > 0) this.stats.lagMs = Date.now() - newest;
      return { read, advanced };
    } catch (err) {
      broken = err instanceof Error ? err : new Error(String(err));
      // The connection may be broken (why the batch failed); it is discarded below either way.
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      // A client that failed mid-transaction is discarded, not reused.
      client.release(broken);
    }
  }

  /**
   * The entries after each locked watermark: as read ahead when it matched,
   * else read now. `withMessages` (the ON CONFLICT path) reads them all now,
   * keeping the messages.
   */
  private async entriesAfter(
    from: readonly { subject: string; after: number }[],
    counts: ReadonlyMap<string, number>,
    prefetched: Prefetched,
    withMessages: boolean,
  ): Promise<PreparedEntries[]> {
    const missing = from.filter((f) => withMessages || prefetched.get(f.subject)?.after !== f.after);
    const fresh = await this.reads.entries(missing.map((f) => ({ ...f, count: counts.get(f.subject) as number })));
    const now = Date.now();
    const read = new Map(
      missing.map((f, i) => [
        f.subject,
        prepareEntries(f.subject, f.after, fresh[i] as XRangeReply, now, withMessages),
      ]),
    );
    return from.map((f) => read.get(f.subject) ?? (prefetched.get(f.subject) as PreparedEntries));
  }
}

/** The batch's rows into broker_messages: one COPY, or (skipConflicts) the INSERT that skips rows already there. */
async function writeRows(
  client: pg.PoolClient,
  parts: readonly PreparedEntries[],
  skipConflicts: boolean,
): Promise<number> {
  if (skipConflicts) {
    const messages = parts.flatMap((part) => part.messages ?? []);
    return insertRowsSkippingConflicts(client, messages);
  }
  const tuples = parts.filter((part) => part.rows > 0).map((part) => part.tuples);
  return tuples.length === 0 ? 0 : copyTuples(client, tuples);
}
