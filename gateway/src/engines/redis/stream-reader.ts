import type { Redis } from "ioredis";
import type { StoredMessage } from "../../core/message.js";
import { decodeEntry, entryId } from "./stream-entry.js";

export interface StreamReaderOptions {
  /** Longest a single XREAD blocks before it is reissued. */
  readonly blockMs: number;
  /** Entries per stream per XREAD. */
  readonly count: number;
  /** Longest wait between retries while Redis is unreachable. */
  readonly maxRetryDelayMs: number;
}

type Deliver = (subject: string, messages: StoredMessage[]) => void;
type XReadReply = [key: Buffer, entries: [id: Buffer, fields: Buffer[]][]][] | null;

/**
 * One blocking connection reading many subjects' streams with one XREAD.
 *
 * A blocking XREAD holds its connection, so it gets a connection of its own
 * (`connection`), never the auto-pipelined command connection. When the set
 * of subjects changes while it is blocked, `CLIENT UNBLOCK` from the command
 * connection (`control`) makes it return at once and start over with the new
 * set. Each subject keeps its cursor across errors and reconnects, so after
 * Redis comes back reading resumes where it stopped.
 */
export class StreamReader {
  private readonly cursors = new Map<string, number>();
  private generation = 0;
  private readingGeneration = -1;
  private reading = false;
  private unblocking = false;
  private closed = false;
  private clientId: number | undefined;
  private wakeIdle: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly connection: Redis,
    private readonly control: Redis,
    private readonly keyPrefix: string,
    private readonly options: StreamReaderOptions,
    private readonly deliver: Deliver,
  ) {
    connection.on("close", () => {
      this.clientId = undefined;
    });
    this.loop = this.run();
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

  async close(): Promise<void> {
    this.closed = true;
    this.wakeIdle?.();
    this.connection.disconnect();
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
        const unblocked = id === undefined ? 0 : await this.control.client("UNBLOCK", id).catch(() => 0);
        if (unblocked === 1) break;
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
        await new Promise<void>((resolve) => {
          this.wakeIdle = resolve;
        });
        this.wakeIdle = undefined;
        continue;
      }
      try {
        if (this.clientId === undefined) this.clientId = Number(await this.connection.client("ID"));
        const reply = await this.read();
        failures = 0;
        if (reply) this.handle(reply);
      } catch {
        if (this.closed) break;
        failures += 1;
        await sleep(Math.min(50 * 2 ** failures, this.options.maxRetryDelayMs));
      }
    }
  }

  private async read(): Promise<XReadReply> {
    const subjects = [...this.cursors.keys()];
    const keys = subjects.map((subject) => this.keyPrefix + subject);
    const ids = subjects.map((subject) => entryId(this.cursors.get(subject) as number));
    this.readingGeneration = this.generation;
    this.reading = true;
    try {
      return (await this.connection.xreadBuffer(
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
      const subject = rawKey.toString("utf8").slice(this.keyPrefix.length);
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
      this.deliver(subject, messages);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
