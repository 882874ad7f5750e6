import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { FLOOR_SLOTS } from "../../core/id-floors.js";
import { sendInOneWrite } from "../../patches/ioredis-corked-socket.js";
import type { RedisKeys } from "../../storage/redis-keys.js";

export interface RedisSweeperOptions {
  /** How often this process tries to sweep (0: only when `sweep` is called). */
  readonly intervalMs: number;
  /** How long the lock names this process after each take or renewal. */
  readonly lockTtlMs: number;
  /** How long fire-and-forget entries stay for subscribers catching up. */
  readonly catchUpRetentionMs: number;
  /** Subjects swept per round trip. */
  readonly batch: number;
  /** Most entries one script call walks (bounds its run time in Redis). */
  readonly maxScan: number;
  /** Longest one sweep goes on; the rest waits for the next. */
  readonly budgetMs: number;
}

export const DEFAULT_SWEEPER_OPTIONS: RedisSweeperOptions = {
  intervalMs: 1_000,
  lockTtlMs: 10_000,
  catchUpRetentionMs: 60_000,
  batch: 256,
  maxScan: 1_000,
  budgetMs: 2_000,
};

/** The watermark table's size: FLOOR_SLOTS slots of 96 bits (see RedisKeys). */
const FLOOR_TABLE_BYTES = (FLOOR_SLOTS * 96) / 8;

export interface SweepResult {
  /** Subjects looked at (due in the schedule). */
  readonly visited: number;
  /** Streams deleted (nothing left to fetch or to catch up on). */
  readonly deleted: number;
  /** Entries trimmed from streams that stay. */
  readonly trimmed: number;
}

type SweepCommands = {
  brokerSweeperLock(lock: string, token: string, ttlMs: number): Promise<number>;
  brokerSweepStream(
    stream: string,
    schedule: string,
    registry: string,
    watermarks: string,
    ...args: (string | number)[]
  ): Promise<[deleted: number, trimmed: number]>;
};

/**
 * Releases what Redis no longer needs: entries that can no longer be fetched
 * (expired, or fire-and-forget past the catch-up time) are trimmed from the
 * head of their stream, and a stream left with nothing is deleted along with
 * its registry and schedule entries, its last id kept in the watermark table
 * (sweep-stream.lua does each subject atomically).
 *
 * Every gateway process runs one; a lock in Redis (sweeperLock, renewed each
 * sweep, expiring after `lockTtlMs`) lets one of them work at a time, and
 * another takes over within `lockTtlMs` when it dies. No archiver is needed.
 * The schedule (a sorted set scored by when each subject's oldest entry is
 * releasable) makes each sweep read only the subjects that are due.
 */
export class RedisSweeper {
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<SweepResult | undefined> | undefined;
  private adopted = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: RedisSweeperOptions = DEFAULT_SWEEPER_OPTIONS,
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    // A failed sweep (Redis down) is simply tried again next time.
    this.timer = setInterval(() => void this.sweep().catch(() => {}), this.options.intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight?.catch(() => {});
  }

  /**
   * Sweeps what is due at `now` if this process holds (or can take) the lock;
   * undefined when another process holds it. One sweep at a time per process.
   */
  sweep(now = Date.now()): Promise<SweepResult | undefined> {
    this.inFlight ??= this.run(now).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async run(now: number): Promise<SweepResult | undefined> {
    const held = await this.scripts.brokerSweeperLock(this.keys.sweeperLock(), this.token, this.options.lockTtlMs);
    if (held !== 1) return undefined;
    if (!this.adopted) {
      await this.adoptUnscheduled(now);
      this.adopted = true;
    }
    const started = Date.now();
    let visited = 0;
    let deleted = 0;
    let trimmed = 0;
    for (;;) {
      const due = await this.redis.zrangebyscore(this.keys.expiries(), "-inf", now, "LIMIT", 0, this.options.batch);
      if (due.length === 0) break;
      const replies = this.sweepSubjects(due, now);
      for (const [wasDeleted, count] of await replies) {
        deleted += wasDeleted;
        trimmed += count;
      }
      visited += due.length;
      if (due.length < this.options.batch || Date.now() - started > this.options.budgetMs) break;
    }
    return { visited, deleted, trimmed };
  }

  private sweepSubjects(subjects: readonly string[], now: number): Promise<[number, number][]> {
    let replies: Promise<[number, number]>[] = [];
    sendInOneWrite(this.redis, () => {
      replies = subjects.map((subject) => {
        const watermark = this.keys.watermark(subject);
        return this.scripts.brokerSweepStream(
          this.keys.stream(subject),
          this.keys.expiries(),
          this.keys.registry(),
          watermark.key,
          now,
          this.options.catchUpRetentionMs,
          subject,
          watermark.slot,
          watermark.fingerprint,
          this.options.maxScan,
          FLOOR_TABLE_BYTES,
        );
      });
    });
    return Promise.all(replies);
  }

  /**
   * Streams created before the schedule existed (by an older gateway) are in
   * the registry only: schedule them for a look now. Once per process.
   */
  private async adoptUnscheduled(now: number): Promise<void> {
    let cursor = "0";
    do {
      const [next, subjects] = await this.redis.sscan(this.keys.registry(), cursor, "COUNT", 1000);
      cursor = next;
      if (subjects.length === 0) continue;
      await this.redis.zadd(this.keys.expiries(), "NX", ...subjects.flatMap((subject) => [now, subject]));
    } while (cursor !== "0");
  }

  private get scripts(): SweepCommands {
    return this.redis as unknown as SweepCommands;
  }
}
