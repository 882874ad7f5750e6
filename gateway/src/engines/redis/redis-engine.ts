import { Redis, type RedisOptions } from "ioredis";
import type { StoredMessage } from "../../core/message.js";
import type { BatchItem, Engine, MessageListener, ReadAfterResult } from "../engine.js";
import { APPEND_BATCH_SCRIPT, CREATE_STREAM_SCRIPT, GET_MANY_SCRIPT, LAST_ID_SCRIPT } from "./scripts.js";
import {
  decodeEntry,
  entryId,
  FIELD_BODY,
  FIELD_EXPIRES_AT,
  FIELD_PUBLISHED_AT,
  NEXT_ID,
  parseEntryId,
} from "./stream-entry.js";
import { StreamReader } from "./stream-reader.js";
import { TurnBatcher } from "./turn-batcher.js";

export interface RedisEngineOptions {
  readonly url: string;
  /** Prefix of every key the broker writes. */
  readonly keyPrefix: string;
  /** Entries kept per subject stream (approximate MAXLEN trimming). */
  readonly maxLenPerSubject: number;
  /** Blocking connections reading live messages, each for a share of the subjects. */
  readonly readerConnections: number;
  /** A command that takes longer fails (UNAVAILABLE) instead of hanging. */
  readonly commandTimeoutMs: number;
  readonly readBlockMs: number;
  readonly readCount: number;
  /**
   * The highest id ever used on a subject outside Redis (the archive), asked
   * only when a publish finds the subject's stream missing: new or lost.
   */
  readonly idFloor?: (subject: string) => Promise<number>;
}

type ScriptCommands = {
  brokerLastId(key: string): Promise<string>;
  brokerCreateStream(key: string, ...args: (string | number | Buffer)[]): Promise<string>;
  brokerAppendBatch(key: string, ...args: (string | number | Buffer)[]): Promise<string[] | null>;
  brokerGetManyBuffer(
    key: string,
    ...ids: string[]
  ): Promise<([body: Buffer, publishedAt: Buffer, expiresAt: Buffer] | null)[]>;
};

export const DEFAULT_REDIS_OPTIONS: Omit<RedisEngineOptions, "url"> = {
  keyPrefix: "broker:stream:",
  maxLenPerSubject: 100_000,
  readerConnections: 2,
  commandTimeoutMs: 2_000,
  readBlockMs: 10_000,
  readCount: 512,
};

/** Fail fast while disconnected and never replay a write whose fate is unknown. */
const FAIL_FAST: RedisOptions = {
  protocol: 2,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (attempt) => Math.min(50 * attempt, 1_000),
};

/**
 * Redis Streams: one stream per subject, written with XADD and read with
 * XRANGE; live messages come from a few StreamReaders, so the number of
 * connections per process stays fixed however many clients subscribe.
 */
export class RedisEngine implements Engine {
  private readonly commands: Redis;
  private readonly readers: StreamReader[] = [];
  private listener: MessageListener = () => {};
  /** Concurrent appends and gets on one subject share a script call (see TurnBatcher). */
  private readonly appends = new TurnBatcher<BatchItem, StoredMessage>(
    (subject, item) => this.appendOne(subject, item.body, item.expiresAt),
    (subject, items) => this.appendBatch(subject, items),
  );
  private readonly gets = new TurnBatcher<number, StoredMessage | undefined>(
    (subject, id) => this.getOne(subject, id),
    (subject, ids) => this.getMany(subject, ids),
  );

  constructor(private readonly options: RedisEngineOptions) {
    this.commands = new Redis(options.url, {
      ...FAIL_FAST,
      enableAutoPipelining: true,
      commandTimeout: options.commandTimeoutMs,
      connectionName: "broker-commands",
    });
    this.commands.on("error", () => {}); // surfaced per command as UNAVAILABLE
    this.commands.defineCommand("brokerLastId", { numberOfKeys: 1, lua: LAST_ID_SCRIPT });
    this.commands.defineCommand("brokerCreateStream", { numberOfKeys: 1, lua: CREATE_STREAM_SCRIPT });
    this.commands.defineCommand("brokerAppendBatch", { numberOfKeys: 1, lua: APPEND_BATCH_SCRIPT });
    this.commands.defineCommand("brokerGetMany", { numberOfKeys: 1, lua: GET_MANY_SCRIPT });
    for (let i = 0; i < options.readerConnections; i++) {
      const connection = new Redis(options.url, { ...FAIL_FAST, connectionName: `broker-reader-${i}` });
      connection.on("error", () => {});
      this.readers.push(
        new StreamReader(
          connection,
          this.commands,
          options.keyPrefix,
          { blockMs: options.readBlockMs, count: options.readCount, maxRetryDelayMs: 1_000 },
          (subject, messages) => this.listener(subject, messages),
        ),
      );
    }
  }

  append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    return this.appends.submit(subject, { body, expiresAt });
  }

  private async appendOne(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    const publishedAt = Date.now();
    const key = this.key(subject);
    const fields = [FIELD_BODY, asBuffer(body), FIELD_PUBLISHED_AT, publishedAt, FIELD_EXPIRES_AT, expiresAt];
    // The hot path is one XADD; NOMKSTREAM makes a missing stream visible.
    let id = await this.commands.xadd(
      key,
      "NOMKSTREAM",
      "MAXLEN",
      "~",
      this.options.maxLenPerSubject,
      NEXT_ID,
      ...fields,
    );
    if (id === null) {
      const floor = this.options.idFloor ? await this.options.idFloor(subject) : 0;
      id = await this.scripts.brokerCreateStream(key, floor, this.options.maxLenPerSubject, ...fields);
    }
    return { id: parseEntryId(id), subject, body, publishedAt, expiresAt };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    const publishedAt = Date.now();
    const key = this.key(subject);
    const args: (string | number | Buffer)[] = [this.options.maxLenPerSubject, publishedAt];
    for (const { body, expiresAt } of items) args.push(asBuffer(body), expiresAt);
    let ids = await this.scripts.brokerAppendBatch(key, "", ...args);
    if (ids === null) {
      const floor = this.options.idFloor ? await this.options.idFloor(subject) : 0;
      ids = (await this.scripts.brokerAppendBatch(key, floor, ...args)) as string[];
    }
    return items.map(({ body, expiresAt }, i) => ({
      id: parseEntryId(ids[i] as string),
      subject,
      body,
      publishedAt,
      expiresAt,
    }));
  }

  get(subject: string, id: number): Promise<StoredMessage | undefined> {
    return this.gets.submit(subject, id);
  }

  private async getMany(subject: string, ids: readonly number[]): Promise<(StoredMessage | undefined)[]> {
    const entries = await this.scripts.brokerGetManyBuffer(this.key(subject), ...ids.map(entryId));
    return entries.map((entry, i) =>
      entry
        ? {
            id: ids[i] as number,
            subject,
            body: entry[0],
            publishedAt: Number(entry[1].toString()),
            expiresAt: Number(entry[2].toString()),
          }
        : undefined,
    );
  }

  private async getOne(subject: string, id: number): Promise<StoredMessage | undefined> {
    const entries = await this.commands.xrangeBuffer(this.key(subject), entryId(id), entryId(id));
    const entry = entries[0];
    return entry ? decodeEntry(subject, entry[0], entry[1]) : undefined;
  }

  async lastId(subject: string): Promise<number> {
    return parseEntryId(await this.scripts.brokerLastId(this.key(subject)));
  }

  async readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    const entries = await this.commands.xrangeBuffer(this.key(subject), `(${entryId(afterId)}`, "+", "COUNT", limit);
    const messages = entries.map(([id, fields]) => decodeEntry(subject, id, fields));
    const first = messages[0];
    // Ids are contiguous per subject, so a jump past afterId + 1 means trimmed entries.
    const gap = first ? first.id > afterId + 1 : (await this.lastId(subject)) > afterId;
    return { messages, gap };
  }

  follow(subject: string, afterId: number): void {
    this.readerFor(subject).follow(subject, afterId);
  }

  unfollow(subject: string): void {
    this.readerFor(subject).unfollow(subject);
  }

  setListener(listener: MessageListener): void {
    this.listener = listener;
  }

  async ready(timeoutMs = 10_000): Promise<void> {
    if (this.commands.status === "ready") return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.commands.off("ready", onReady);
        reject(new Error(`Redis at ${this.options.url} not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.commands.once("ready", onReady);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.readers.map((reader) => reader.close()));
    await this.commands.quit().catch(() => this.commands.disconnect());
  }

  /** Connections this engine holds: one for commands plus one per reader. */
  get connectionCount(): number {
    return 1 + this.readers.length;
  }

  private get scripts(): ScriptCommands {
    return this.commands as unknown as ScriptCommands;
  }

  private key(subject: string): string {
    return this.options.keyPrefix + subject;
  }

  private readerFor(subject: string): StreamReader {
    let hash = 0;
    for (let i = 0; i < subject.length; i++) hash = (hash * 31 + subject.charCodeAt(i)) | 0;
    return this.readers[Math.abs(hash) % this.readers.length] as StreamReader;
  }
}

/** A Buffer view of the same bytes (no copy), as ioredis sends Buffers verbatim. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
