import { Redis, type RedisOptions } from "ioredis";
import type { StoredMessage } from "../../core/message.js";
import type { BatchItem, Engine, FeedListener, ReadAfterResult } from "../engine.js";
import { AssignedIds, RAISE_LAST_ID_SCRIPT } from "./assigned-ids.js";
import { corked } from "./corked.js";
import {
  APPEND_BATCH_SCRIPT,
  APPEND_ONCE_SCRIPT,
  CREATE_STREAM_SCRIPT,
  GET_MANY_SCRIPT,
  LAST_ID_SCRIPT,
  STORED_RANGE_SCRIPT,
} from "./scripts.js";
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
import { subjectRegistryKey } from "./subject-registry.js";
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
  /** Called with each connection the engine opens (command metrics, in practice). */
  readonly instrument?: (connection: Redis, role: "commands" | "reader") => void;
}

type ScriptCommands = {
  brokerLastId(key: string): Promise<string>;
  brokerRaiseLastId(key: string, id: number): Promise<number>;
  brokerStoredRange(key: string): Promise<[first: string, last: string]>;
  brokerCreateStream(key: string, registryKey: string, ...args: (string | number | Buffer)[]): Promise<string>;
  brokerAppendBatch(key: string, registryKey: string, ...args: (string | number | Buffer)[]): Promise<string[] | null>;
  brokerAppendOnce(
    key: string,
    idempotencyKey: Buffer,
    registryKey: string,
    ...args: (string | number | Buffer)[]
  ): Promise<[id: string, duplicate: number] | null>;
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

/** Most requests per script call (bounds a script's run time in Redis). */
const MAX_BATCH = 256;

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
  private listener: FeedListener = { messages() {}, lost() {} };
  private readonly assigned = new AssignedIds();
  /** Set when the command connection closed: Redis may come back with less, so raise ids before writing. */
  private raiseNeeded = false;
  /** Counts the command connection's closes, so a pass that raced a close does not clear raiseNeeded. */
  private closes = 0;
  private raising: Promise<void> | undefined;
  /** Concurrent appends and gets on one subject share a script call (see TurnBatcher). */
  private readonly appends = new TurnBatcher<BatchItem, StoredMessage>(
    (subject, item) => this.appendOne(subject, item.body, item.expiresAt),
    (subject, items) => this.appendBatch(subject, items),
    MAX_BATCH,
    (sendAll) => corked(this.commands, sendAll),
  );
  private readonly gets = new TurnBatcher<number, StoredMessage | undefined>(
    (subject, id) => this.getOne(subject, id),
    (subject, ids) => this.getMany(subject, ids),
    MAX_BATCH,
    (sendAll) => corked(this.commands, sendAll),
  );

  constructor(private readonly options: RedisEngineOptions) {
    this.commands = new Redis(options.url, {
      ...FAIL_FAST,
      // No auto-pipelining: the TurnBatchers already group a turn's requests
      // and send them on a corked socket (see corked.ts).
      enableAutoPipelining: false,
      commandTimeout: options.commandTimeoutMs,
      connectionName: "broker-commands",
    });
    this.commands.on("error", () => {}); // surfaced per command as UNAVAILABLE
    this.commands.on("close", () => {
      this.closes += 1;
      this.raiseNeeded = true;
    });
    options.instrument?.(this.commands, "commands");
    this.commands.defineCommand("brokerLastId", { numberOfKeys: 1, lua: LAST_ID_SCRIPT });
    this.commands.defineCommand("brokerRaiseLastId", { numberOfKeys: 1, lua: RAISE_LAST_ID_SCRIPT });
    this.commands.defineCommand("brokerStoredRange", { numberOfKeys: 1, lua: STORED_RANGE_SCRIPT });
    this.commands.defineCommand("brokerCreateStream", { numberOfKeys: 2, lua: CREATE_STREAM_SCRIPT });
    this.commands.defineCommand("brokerAppendBatch", { numberOfKeys: 2, lua: APPEND_BATCH_SCRIPT });
    this.commands.defineCommand("brokerAppendOnce", { numberOfKeys: 3, lua: APPEND_ONCE_SCRIPT });
    this.commands.defineCommand("brokerGetMany", { numberOfKeys: 1, lua: GET_MANY_SCRIPT });
    for (let i = 0; i < options.readerConnections; i++) {
      const connection = new Redis(options.url, { ...FAIL_FAST, connectionName: `broker-reader-${i}` });
      connection.on("error", () => {});
      options.instrument?.(connection, "reader");
      this.readers.push(
        new StreamReader(
          connection,
          this.commands,
          options.keyPrefix,
          { blockMs: options.readBlockMs, count: options.readCount, maxRetryDelayMs: 1_000 },
          {
            messages: (subject, messages) => {
              this.assigned.note(subject, (messages[messages.length - 1] as StoredMessage).id);
              this.listener.messages(subject, messages);
            },
            lost: (subject, lastId) => this.listener.lost(subject, lastId),
            lastId: (subject) => this.lastId(subject),
          },
        ),
      );
    }
  }

  append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    return this.appends.submit(subject, { body, expiresAt });
  }

  private async appendOne(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    if (this.raiseNeeded) await this.raiseLastIds();
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
      const floor = await this.floor(subject);
      id = await this.scripts.brokerCreateStream(
        key,
        subjectRegistryKey(this.options.keyPrefix),
        floor,
        this.options.maxLenPerSubject,
        subject,
        ...fields,
      );
    }
    const assigned = parseEntryId(id);
    this.assigned.note(subject, assigned);
    return { id: assigned, subject, body, publishedAt, expiresAt };
  }

  async appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: { key: string; windowMs: number },
  ): Promise<{ id: number; duplicate: boolean }> {
    if (this.raiseNeeded) await this.raiseLastIds();
    const key = this.key(subject);
    // The stream key plus a 0xFF byte, which no UTF-8 subject contains, so
    // this can never be another subject's stream key.
    const onceKey = Buffer.concat([Buffer.from(key), IDEMPOTENCY_SEPARATOR, Buffer.from(idempotency.key)]);
    const registry = subjectRegistryKey(this.options.keyPrefix);
    const args = [this.options.maxLenPerSubject, idempotency.windowMs, asBuffer(body), Date.now(), expiresAt, subject];
    const reply = await this.withFloor(subject, (floor) =>
      this.scripts.brokerAppendOnce(key, onceKey, registry, floor, ...args),
    );
    const [id, duplicate] = reply as [string, number];
    const assigned = parseEntryId(id);
    this.assigned.note(subject, assigned);
    return { id: assigned, duplicate: duplicate === 1 };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    if (this.raiseNeeded) await this.raiseLastIds();
    const publishedAt = Date.now();
    const key = this.key(subject);
    const registry = subjectRegistryKey(this.options.keyPrefix);
    const args: (string | number | Buffer)[] = [this.options.maxLenPerSubject, publishedAt, subject];
    for (const { body, expiresAt } of items) args.push(asBuffer(body), expiresAt);
    const ids = await this.withFloor(subject, (floor) => this.scripts.brokerAppendBatch(key, registry, floor, ...args));
    this.assigned.note(subject, parseEntryId(ids[ids.length - 1] as string));
    return items.map(({ body, expiresAt }, i) => ({
      id: parseEntryId(ids[i] as string),
      subject,
      body,
      publishedAt,
      expiresAt,
    }));
  }

  /**
   * Runs a script that needs the subject's id floor only when the stream is
   * missing: first without it (''), and when the script answers null, again
   * with the floor looked up.
   */
  private async withFloor<T>(subject: string, run: (floor: number | "") => Promise<T | null>): Promise<T> {
    const reply = await run("");
    if (reply !== null) return reply;
    return (await run(await this.floor(subject))) as T;
  }

  /**
   * The id a recreated stream continues above: the archive's highest id, or
   * the highest this process saw assigned if that is higher (ids Redis lost
   * before they were archived, e.g. by a FLUSHALL).
   */
  private async floor(subject: string): Promise<number> {
    const archived = this.options.idFloor ? await this.options.idFloor(subject) : 0;
    return Math.max(archived, this.assigned.highestOf(subject));
  }

  /**
   * After the command connection came back, raises every stream this process
   * knows to the highest id it saw assigned, before any write or read of a
   * position (lastId, readAfter): Redis may have restarted with less than it
   * acknowledged (see assigned-ids.ts). So readers and resuming subscribers
   * see the lost ids as a gap, and publishers never get them again.
   * Concurrent callers share one pass; a failed pass is retried by the next.
   */
  private raiseLastIds(): Promise<void> {
    if (!this.raising) {
      this.raising = (async () => {
        try {
          const closes = this.closes;
          const known = this.assigned.entries();
          await Promise.all(known.map(([subject, id]) => this.scripts.brokerRaiseLastId(this.key(subject), id)));
          if (this.closes === closes) this.raiseNeeded = false;
        } finally {
          this.raising = undefined;
        }
      })();
    }
    return this.raising;
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
    // Raised first, so a reader or subscriber never takes ids Redis lost for a stream that went back.
    if (this.raiseNeeded) await this.raiseLastIds();
    // A stream Redis lost entirely (FLUSHALL) continues above what this process gave out.
    return Math.max(parseEntryId(await this.scripts.brokerLastId(this.key(subject))), this.assigned.highestOf(subject));
  }

  /** The first id still stored (0 when none) and the last id ever assigned (0 when none). */
  async storedRange(subject: string): Promise<{ first: number; last: number }> {
    const [first, last] = await this.scripts.brokerStoredRange(this.key(subject));
    return { first: parseEntryId(first), last: parseEntryId(last) };
  }

  async readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    if (this.raiseNeeded) await this.raiseLastIds();
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

  setListener(listener: FeedListener): void {
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

  isReachable(): boolean {
    return this.commands.status === "ready";
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

const IDEMPOTENCY_SEPARATOR = Buffer.from([0xff]);

/** A Buffer view of the same bytes (no copy), as ioredis sends Buffers verbatim. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
