import type { Redis } from "ioredis";
import type { StoredMessage } from "../../core/message.js";
import type { RedisKeys } from "../../storage/redis-keys.js";
import { decodeEntry, entryId } from "../../storage/stream-entry.js";

export interface StreamReaderOptions {
  /** Longest a single XREAD blocks before it is reissued. */
  readonly blockMs: number;
  /** Entries per stream per XREAD. */
  readonly count: number;
  /** Longest wait between retries while Redis is unreachable. */
  readonly maxRetryDelayMs: number;
}

/**
 * The node a reader reads from. On one Redis it is one fixed connection; on
 * Redis Cluster it follows the master serving the reader's hash slot and
 * moves (a new connection) after MOVED, a failover or a reshard.
 */
export interface ReaderLink {
  /** The connection for the next read; a different one after the link moved. */
  connection(): Promise<Redis>;
  /** A connection to the same node that is not blocked (for CLIENT UNBLOCK), if there is one. */
  control(): Redis | undefined;
  /** A read failed with `err`: the link may move to the node now serving the slot. */
  failed(err: unknown): void;
  close(): void;
}

/** Where a reader's findings go, and how it asks a subject's last id. */
export interface ReaderSink {
  messages(subject: string, messages: StoredMessage[]): void;
  lost(subject: string, lastId: number): void;
  lastId(subject: string): Promise<number>;
}
type XReadReply = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][] | null;

/**
 * One blocking connection reading many subjects' streams with one XREAD.
 *
 * A blocking XREAD holds its connection, so it gets a connection of its own
 * (the link's `connection`), never the shared command connection. When the set
 * of subjects changes while it is blocked, `CLIENT UNBLOCK` from another
 * connection to the same node (the link's `control`) makes it return at once
 * and start over with the new set. Each subject keeps its cursor across
 * errors, reconnects and moves to another node, so reading resumes where it
 * stopped.
 *
 * If Redis lost data (a restart without persistence, FLUSHALL), a stream's
 * last id falls below the cursor and new messages could reuse delivered ids,
 * which XREAD past the cursor would never show (a failover to a replica that
 * missed writes does the same). So after every reconnect, every move and
 * every idle read the reader compares each cursor with the stream's last id
 * and reports a subject whose stream went back as lost.
 */
export class StreamReader {
  private readonly cursors = new Map<string, number>();
  private generation = 0;
  private readingGeneration = -1;
  private reading = false;
  private unblocking = false;
  private closed = false;
  private clientId: number | undefined;
  private verifyCursors = false;
  /** Set when CLIENT UNBLOCK cut the read in flight short (an empty reply that is not idleness). */
  private interrupted = false;
  private wakeIdle: (() => void) | undefined;
  /** Consecutive failed reads and the last one's error, while reads fail. */
  private failing: { readonly since: number; readonly count: number; readonly error: string } | undefined;
  private readonly loop: Promise<void>;
  /** The connection reads go on (from the link); replaced when the link moves. */
  private connection: Redis | undefined;

  constructor(
    private readonly link: ReaderLink,
    private readonly keys: RedisKeys,
    private readonly options: StreamReaderOptions,
    private readonly sink: ReaderSink,
  ) {
    this.loop = this.run();
  }

  /** The link's connection for the next read; a new one (another node) is checked like a reconnect. */
  private async current(): Promise<Redis> {
    const connection = await this.link.connection();
    if (connection !== this.connection) {
      if (this.connection !== undefined) this.verifyCursors = true;
      this.connection = connection;
      this.clientId = undefined;
      connection.on("close", () => {
        if (this.connection !== connection) return;
        this.clientId = undefined;
        this.verifyCursors = true;
      });
    }
    return connection;
  }

  follow(subject: string, afterId: number): void {
    this.cursors.set(subject, afterId);
    this.changed();
  }

  unfollow(subject: string): void {
    // A reply in flight for it is dropped; no need to interrupt the read.
    this.cursors.delete(subject);
  }

  get subjectCount(): number {
    return this.cursors.size;
  }

  /**
   * Why this reader cannot read, once its reads have failed at least
   * `minFailures` times in a row (a single error while Redis restarts is not
   * worth reporting); undefined while it reads.
   */
  problem(minFailures = 3): string | undefined {
    const failing = this.failing;
    if (!failing || failing.count < minFailures) return undefined;
    const seconds = ((Date.now() - failing.since) / 1000).toFixed(1);
    return `subscription reader failing for ${seconds} s (${failing.count} reads): ${failing.error}`;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeIdle?.();
    this.link.close();
    await this.loop;
  }

  private changed(): void {
    this.generation += 1;
    if (!this.reading) {
      this.wakeIdle?.();
      return;
    }
    void this.unblock();
  }

  /** Interrupts the read in flight until one that includes the new subjects starts. */
  private async unblock(): Promise<void> {
    if (this.unblocking) return;
    this.unblocking = true;
    try {
      while (!this.closed && this.reading && this.readingGeneration < this.generation) {
        const id = this.clientId;
        // 1 when the reader was blocked; 0 when its XREAD has not reached Redis yet.
        const control = this.link.control();
        const unblocked =
          id === undefined || control === undefined ? 0 : await control.client("UNBLOCK", id).catch(() => 0);
        if (unblocked === 1) {
          this.interrupted = true;
          break;
        }
        await sleep(2);
      }
    } finally {
      this.unblocking = false;
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.cursors.size === 0) {
        this.failing = undefined;
        await new Promise<void>((resolve) => {
          this.wakeIdle = resolve;
        });
        this.wakeIdle = undefined;
        continue;
      }
      try {
        const connection = await this.current();
        if (this.clientId === undefined) this.clientId = Number(await connection.client("ID"));
        if (this.verifyCursors) await this.checkForLostStreams();
        const reply = await this.read(connection);
        failures = 0;
        this.failing = undefined;
        if (reply) this.handle(reply);
        // A read idle for blockMs is a cheap moment to look for data lost
        // without a reconnect (FLUSHALL); one cut short by new subjects is not.
        else if (!this.interrupted) this.verifyCursors = true;
        this.interrupted = false;
      } catch (err) {
        if (this.closed) break;
        this.link.failed(err);
        failures += 1;
        this.failing = {
          since: this.failing?.since ?? Date.now(),
          count: failures,
          error: err instanceof Error ? err.message : String(err),
        };
        await sleep(Math.min(50 * 2 ** failures, this.options.maxRetryDelayMs));
      }
    }
  }

  private async checkForLostStreams(): Promise<void> {
    const subjects = [...this.cursors.keys()];
    const lastIds = await Promise.all(subjects.map((subject) => this.sink.lastId(subject)));
    this.verifyCursors = false;
    subjects.forEach((subject, i) => {
      const cursor = this.cursors.get(subject);
      const lastId = lastIds[i] as number;
      if (cursor === undefined || lastId >= cursor) return;
      // Read on from what the stream holds now; the subscribers are told.
      this.cursors.set(subject, lastId);
      this.sink.lost(subject, lastId);
    });
  }

  private async read(connection: Redis): Promise<XReadReply> {
    const subjects = [...this.cursors.keys()];
    const keys = subjects.map((subject) => this.keys.stream(subject));
    const ids = subjects.map((subject) => entryId(this.cursors.get(subject) as number));
    this.readingGeneration = this.generation;
    this.reading = true;
    try {
      return (await connection.xreadBuffer(
        "COUNT",
        this.options.count,
        "BLOCK",
        this.options.blockMs,
        "STREAMS",
        ...keys,
        ...ids,
      )) as XReadReply;
    } finally {
      this.reading = false;
    }
  }

  private handle(reply: NonNullable<XReadReply>): void {
    for (const [rawKey, entries] of reply) {
      const subject = this.keys.subjectOf(rawKey.toString("utf8"));
      const cursor = this.cursors.get(subject);
      if (cursor === undefined) continue;
      const messages: StoredMessage[] = [];
      for (const [id, fields] of entries) {
        const message = decodeEntry(subject, id, fields);
        if (message.id > cursor) messages.push(message);
      }
      const last = messages[messages.length - 1];
      if (!last) continue;
      this.cursors.set(subject, last.id);
      this.sink.messages(subject, messages);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
