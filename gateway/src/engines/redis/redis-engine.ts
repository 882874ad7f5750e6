import { Redis, type RedisOptions } from "ioredis";
import type { BatchItem, Engine, FeedListener, ReadAfterResult } from "../../core/engine.js";
import type { StoredMessage } from "../../core/message.js";
import { DEFAULT_KEY_PREFIX, RedisKeys } from "../../storage/redis-keys.js";
import { defineScripts } from "../../storage/redis-scripts.js";
import {
  decodeEntry,
  entryId,
  FIELD_BODY,
  FIELD_EXPIRES_AT,
  FIELD_PUBLISHED_AT,
  NEXT_ID,
  parseEntryId,
} from "../../storage/stream-entry.js";
import { corked } from "./corked.js";
import { StorageProbe } from "./storage-probe.js";
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
  /** Called with each connection the engine opens (command metrics, in practice). */
  readonly instrument?: (connection: Redis, role: "commands" | "reader") => void;
}

type ScriptCommands = {
  brokerLastId(key: string): Promise<string>;
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
  keyPrefix: DEFAULT_KEY_PREFIX,
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
  private readonly keys: RedisKeys;
  private readonly readers: StreamReader[] = [];
  private readonly probe: StorageProbe;
  private listener: FeedListener = { messages() {}, lost() {} };
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
    this.keys = new RedisKeys(options.keyPrefix);
    this.commands = new Redis(options.url, {
      ...FAIL_FAST,
      // No auto-pipelining: the TurnBatchers already group a turn's requests
      // and send them on a corked socket (see corked.ts).
      enableAutoPipelining: false,
      commandTimeout: options.commandTimeoutMs,
      connectionName: "broker-commands",
    });
    this.commands.on("error", () => {}); // surfaced per command as UNAVAILABLE
    options.instrument?.(this.commands, "commands");
    defineScripts(this.commands);
    for (let i = 0; i < options.readerConnections; i++) {
      const connection = new Redis(options.url, { ...FAIL_FAST, connectionName: `broker-reader-${i}` });
      connection.on("error", () => {});
      options.instrument?.(connection, "reader");
      this.readers.push(
        new StreamReader(
          connection,
          this.commands,
          this.keys,
          { blockMs: options.readBlockMs, count: options.readCount, maxRetryDelayMs: 1_000 },
          {
            messages: (subject, messages) => this.listener.messages(subject, messages),
            lost: (subject, lastId) => this.listener.lost(subject, lastId),
            lastId: (subject) => this.lastId(subject),
          },
        ),
      );
    }
    this.probe = new StorageProbe({
      commands: this.commands,
      cluster: false,
      describe: redactedUrl(options.url),
      readerProblem: () => this.readerProblem(),
    });
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
      id = await this.scripts.brokerCreateStream(
        key,
        this.keys.registry(),
        floor,
        this.options.maxLenPerSubject,
        subject,
        ...fields,
      );
    }
    return { id: parseEntryId(id), subject, body, publishedAt, expiresAt };
  }

  async appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: { key: string; windowMs: number },
  ): Promise<{ id: number; duplicate: boolean }> {
    const key = this.key(subject);
    // The stream key plus a 0xFF byte, which no UTF-8 subject contains, so
    // this can never be another subject's stream key.
    const onceKey = this.keys.idempotency(subject, idempotency.key);
    const registry = this.keys.registry();
    const args = [this.options.maxLenPerSubject, idempotency.windowMs, asBuffer(body), Date.now(), expiresAt, subject];
    const reply = await this.withFloor(subject, (floor) =>
      this.scripts.brokerAppendOnce(key, onceKey, registry, floor, ...args),
    );
    const [id, duplicate] = reply as [string, number];
    return { id: parseEntryId(id), duplicate: duplicate === 1 };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    const publishedAt = Date.now();
    const key = this.key(subject);
    const registry = this.keys.registry();
    const args: (string | number | Buffer)[] = [this.options.maxLenPerSubject, publishedAt, subject];
    for (const { body, expiresAt } of items) args.push(asBuffer(body), expiresAt);
    const ids = await this.withFloor(subject, (floor) => this.scripts.brokerAppendBatch(key, registry, floor, ...args));
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
    const floor = this.options.idFloor ? await this.options.idFloor(subject) : 0;
    return (await run(floor)) as T;
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

  /** The first id still stored (0 when none) and the last id ever assigned (0 when none). */
  async storedRange(subject: string): Promise<{ first: number; last: number }> {
    const [first, last] = await this.scripts.brokerStoredRange(this.key(subject));
    return { first: parseEntryId(first), last: parseEntryId(last) };
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

  setListener(listener: FeedListener): void {
    this.listener = listener;
  }

  /** Resolves once connected and probed (so readiness is right from the start). */
  async ready(timeoutMs = 10_000): Promise<void> {
    await this.connected(timeoutMs);
    await this.probe.probe();
  }

  private async connected(timeoutMs: number): Promise<void> {
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

  notReadyReason(): string | undefined {
    return this.probe.notReadyReason();
  }

  private readerProblem(): string | undefined {
    for (const reader of this.readers) {
      const problem = reader.problem();
      if (problem) return problem;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.probe.stop();
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
    return this.keys.stream(subject);
  }

  private readerFor(subject: string): StreamReader {
    let hash = 0;
    for (let i = 0; i < subject.length; i++) hash = (hash * 31 + subject.charCodeAt(i)) | 0;
    return this.readers[Math.abs(hash) % this.readers.length] as StreamReader;
  }
}

/** The URL without its password, for messages. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

/** A Buffer view of the same bytes (no copy), as ioredis sends Buffers verbatim. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
