import type { Redis } from "ioredis";
import {
  type AppendOnceResult,
  type BatchItem,
  type Engine,
  type FeedListener,
  type Idempotency,
  NO_FEED_LISTENER,
  type ReadAfterResult,
} from "../../core/engine.js";
import type { Log } from "../../core/log.js";
import { FIRE_AND_FORGET, type StoredMessage } from "../../core/message.js";
import { corkedSocketBatching, sendInOneWrite } from "../../patches/ioredis-corked-socket.js";
import { defaultLogger } from "../../process/logger.js";
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
import { StorageErrors } from "../storage-errors.js";
import { IdContinuity } from "./assigned-ids.js";
import { openConnection, RECONNECT } from "./redis-connection.js";
import { classifyRedisError } from "./redis-errors.js";
import { DEFAULT_SWEEPER_OPTIONS, RedisSweeper } from "./redis-sweeper.js";
import { StorageProbe } from "./storage-probe.js";
import { StreamReader } from "./stream-reader.js";
import { TurnBatcher } from "./turn-batcher.js";
import { writeRefusal } from "./write-refusals.js";

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
  /** Subjects with a stream at once (counted by the registry); a publish to one more is refused. */
  readonly maxSubjects: number;
  /** How long fire-and-forget entries stay for subscribers catching up (then the sweep may trim them). */
  readonly catchUpRetentionMs: number;
  /** How often this process tries to sweep (0: never on its own; see RedisSweeper). */
  readonly sweepIntervalMs: number;
  /** Called with each connection the engine opens (command metrics, in practice). */
  readonly instrument?: (connection: Redis, role: "commands" | "reader") => void;
  /** Where storage failures and connection events are logged (default: the process logger). */
  readonly log?: Log;
}

type ScriptCommands = {
  brokerLastIdOrFloor(key: string, watermarks: string, slot: number, fingerprint: number): Promise<string>;
  brokerRaiseLastId(key: string, id: number): Promise<number>;
  brokerStoredRange(key: string): Promise<[first: string, last: string]>;
  brokerCreateStream(...keysAndArgs: (string | number | Buffer)[]): Promise<string>;
  brokerAppendBatch(...keysAndArgs: (string | number | Buffer)[]): Promise<string[] | null>;
  brokerAppendShares(numberOfKeys: number, ...keysAndArgs: (string | number | Buffer)[]): Promise<string[][]>;
  brokerAppendOnce(...keysAndArgs: (string | number | Buffer)[]): Promise<[id: string, duplicate: number] | null>;
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
  maxSubjects: 100_000,
  catchUpRetentionMs: DEFAULT_SWEEPER_OPTIONS.catchUpRetentionMs,
  sweepIntervalMs: DEFAULT_SWEEPER_OPTIONS.intervalMs,
};

/** Most requests per script call (bounds a script's run time in Redis). */
const MAX_BATCH = 256;

/**
 * Redis Streams: one stream per subject, written with XADD and read with
 * XRANGE; live messages come from a few StreamReaders, so the number of
 * connections per process stays fixed however many clients subscribe.
 */
export class RedisEngine implements Engine {
  private readonly commands: Redis;
  private readonly keys: RedisKeys;
  private readonly readers: StreamReader[] = [];
  private listener: FeedListener = NO_FEED_LISTENER;
  private readonly errors: StorageErrors;
  private readonly log: Log;
  /** Trims and deletes what can no longer be fetched (one gateway process at a time). */
  readonly sweeper: RedisSweeper;
  /** Several subjects' shares of a batch in one script; absent with an archive (floors come from it one by one). */
  readonly appendShares?: (
    shares: readonly { subject: string; items: readonly BatchItem[] }[],
  ) => Promise<StoredMessage[][]>;
  /** Ids given out here stay above what Redis may lose (see assigned-ids.ts). */
  private readonly ids = new IdContinuity((subject, id) => this.scripts.brokerRaiseLastId(this.key(subject), id));
  private readonly probe: StorageProbe;
  /** Concurrent appends and gets on one subject share a script call (see TurnBatcher). */
  private readonly appends = new TurnBatcher<BatchItem, StoredMessage>(
    (subject, item) => this.appendOne(subject, item.body, item.expiresAt),
    (subject, items) => this.storeBatch(subject, items),
    MAX_BATCH,
    (sendAll) => sendInOneWrite(this.commands, sendAll),
  );
  private readonly gets = new TurnBatcher<number, StoredMessage | undefined>(
    (subject, id) => this.getOne(subject, id),
    (subject, ids) => this.getMany(subject, ids),
    MAX_BATCH,
    (sendAll) => sendInOneWrite(this.commands, sendAll),
  );

  constructor(private readonly options: RedisEngineOptions) {
    this.log = options.log ?? defaultLogger();
    this.errors = new StorageErrors("redis", classifyRedisError, this.log);
    this.keys = new RedisKeys(options.keyPrefix);
    this.commands = openConnection(
      options.url,
      {
        // The TurnBatchers group a turn's requests; with the corked-socket patch
        // they leave in one write without auto-pipelining's Pipeline per turn.
        enableAutoPipelining: !corkedSocketBatching(),
        commandTimeout: options.commandTimeoutMs,
        connectionName: "broker-commands",
      },
      this.log,
    );
    // Redis may come back with less than it acknowledged: raise ids before the next write (see assigned-ids.ts).
    this.commands.on("close", () => this.ids.connectionClosed());
    options.instrument?.(this.commands, "commands");
    defineScripts(this.commands);
    this.sweeper = new RedisSweeper(this.commands, this.keys, {
      ...DEFAULT_SWEEPER_OPTIONS,
      intervalMs: options.sweepIntervalMs,
      catchUpRetentionMs: options.catchUpRetentionMs,
    });
    this.sweeper.start();
    if (!options.idFloor) this.appendShares = (shares) => this.appendSharesInOneScript(shares);
    for (let i = 0; i < options.readerConnections; i++) {
      const connection = openConnection(options.url, { connectionName: `broker-reader-${i}` }, this.log);
      options.instrument?.(connection, "reader");
      this.readers.push(
        new StreamReader(
          connection,
          this.commands,
          this.keys,
          { blockMs: options.readBlockMs, count: options.readCount, retryBackoff: RECONNECT },
          {
            messages: (subject, messages) => {
              this.ids.note(subject, (messages[messages.length - 1] as StoredMessage).id);
              this.listener.messages(subject, messages);
            },
            lost: (subject, lastId) => this.listener.lost(subject, lastId),
            failing: (subject, error, since) => this.listener.failing(subject, error, since),
            lastId: (subject) => this.lastId(subject),
          },
          this.errors,
          this.log,
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
    return this.errors.guard(this.appends.submit(subject, { body, expiresAt }), "append", subject);
  }

  private async appendOne(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    try {
      return await this.appendOneUnchecked(subject, body, expiresAt);
    } catch (err) {
      throw writeRefusal(err, this.options.maxSubjects);
    }
  }

  private async appendOneUnchecked(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    if (this.ids.mustRaise) await this.ids.raise();
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
      const watermark = this.keys.watermark(subject);
      id = await this.scripts.brokerCreateStream(
        ...this.creationKeys(subject),
        floor,
        this.options.maxLenPerSubject,
        subject,
        this.options.maxSubjects,
        this.releaseAt(publishedAt, expiresAt),
        watermark.slot,
        watermark.fingerprint,
        ...fields,
      );
    }
    const assigned = parseEntryId(id);
    this.ids.note(subject, assigned);
    return { id: assigned, subject, body, publishedAt, expiresAt };
  }

  appendOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: Idempotency,
  ): Promise<AppendOnceResult> {
    return this.errors.guard(this.storeOnce(subject, body, expiresAt, idempotency), "appendOnce", subject);
  }

  private async storeOnce(
    subject: string,
    body: Uint8Array,
    expiresAt: number,
    idempotency: Idempotency,
  ): Promise<AppendOnceResult> {
    if (this.ids.mustRaise) await this.ids.raise();
    const key = this.key(subject);
    const onceKey = this.keys.idempotency(subject, idempotency.key);
    const [, registry, schedule, watermarks] = this.creationKeys(subject);
    const { slot, fingerprint } = this.keys.watermark(subject);
    const publishedAt = Date.now();
    const args = [
      this.options.maxLenPerSubject,
      idempotency.windowMs,
      asBuffer(body),
      publishedAt,
      expiresAt,
      subject,
      this.options.maxSubjects,
      this.releaseAt(publishedAt, expiresAt),
      slot,
      fingerprint,
      idempotency.digest,
    ];
    const reply = await this.withFloor(subject, (floor) =>
      this.scripts.brokerAppendOnce(key, onceKey, registry, schedule, watermarks, floor, ...args),
    ).catch((err: unknown) => {
      throw writeRefusal(err, this.options.maxSubjects);
    });
    const [id, duplicate] = reply as [string, number];
    const assigned = parseEntryId(id);
    this.ids.note(subject, assigned);
    return { id: assigned, duplicate: duplicate !== 0, conflicting: duplicate === 2 };
  }

  appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    return this.errors.guard(this.storeBatch(subject, items), "appendBatch", subject);
  }

  private async storeBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    if (this.ids.mustRaise) await this.ids.raise();
    const publishedAt = Date.now();
    const { slot, fingerprint } = this.keys.watermark(subject);
    const first = items[0]?.expiresAt ?? 0;
    const args: (string | number | Buffer)[] = [
      this.options.maxLenPerSubject,
      publishedAt,
      subject,
      this.options.maxSubjects,
      this.releaseAt(publishedAt, first),
      slot,
      fingerprint,
    ];
    for (const { body, expiresAt } of items) args.push(asBuffer(body), expiresAt);
    const keys = this.creationKeys(subject);
    const ids = await this.withFloor(subject, (floor) => this.scripts.brokerAppendBatch(...keys, floor, ...args)).catch(
      (err: unknown) => {
        throw writeRefusal(err, this.options.maxSubjects);
      },
    );
    this.ids.note(subject, parseEntryId(ids[ids.length - 1] as string));
    return items.map(({ body, expiresAt }, i) => ({
      id: parseEntryId(ids[i] as string),
      subject,
      body,
      publishedAt,
      expiresAt,
    }));
  }

  /**
   * Several subjects' shares in one script (atomic, all or none). Only
   * without an archive: a missing stream's floor is then its watermark,
   * which the script reads itself; with one, `appendShares` is absent (see
   * the constructor) and the broker appends share by share.
   */
  private async appendSharesInOneScript(
    shares: readonly { subject: string; items: readonly BatchItem[] }[],
  ): Promise<StoredMessage[][]> {
    if (this.ids.mustRaise) await this.ids.raise();
    const publishedAt = Date.now();
    const keys: string[] = [this.keys.registry(), this.keys.expiries(), this.keys.watermark("").key];
    const args: (string | number | Buffer)[] = [this.options.maxLenPerSubject, publishedAt, this.options.maxSubjects];
    for (const { subject, items } of shares) {
      keys.push(this.key(subject));
      const { slot, fingerprint } = this.keys.watermark(subject);
      const releaseAt = this.releaseAt(publishedAt, items[0]?.expiresAt ?? 0);
      args.push(subject, items.length, releaseAt, slot, fingerprint);
      for (const { body, expiresAt } of items) args.push(asBuffer(body), expiresAt);
    }
    const replies = await this.scripts.brokerAppendShares(keys.length, ...keys, ...args).catch((err: unknown) => {
      throw writeRefusal(err, this.options.maxSubjects);
    });
    shares.forEach(({ subject }, s) => {
      const ids = replies[s] as string[];
      this.ids.note(subject, parseEntryId(ids[ids.length - 1] as string));
    });
    return shares.map(({ subject, items }, s) =>
      items.map(({ body, expiresAt }, i) => ({
        id: parseEntryId((replies[s] as string[])[i] as string),
        subject,
        body,
        publishedAt,
        expiresAt,
      })),
    );
  }

  /**
   * Runs a script that needs the subject's id floor only when the stream is
   * missing: first without it (''), and when the script answers null, again
   * with the floor looked up.
   */
  private async withFloor<T>(subject: string, run: (floor: number | "") => Promise<T | null>): Promise<T> {
    // Without an archive the floor is 0 (the watermark covers deleted streams): one call.
    if (!this.options.idFloor) return (await run(0)) as T;
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
    return Math.max(archived, this.ids.highestOf(subject));
  }

  get(subject: string, id: number): Promise<StoredMessage | undefined> {
    return this.errors.guard(this.gets.submit(subject, id), "get", subject);
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

  /** The highest id ever assigned: the stream's, or the watermark of its deleted stream (0 when none). */
  lastId(subject: string): Promise<number> {
    return this.errors.guard(this.readLastId(subject), "lastId", subject);
  }

  private async readLastId(subject: string): Promise<number> {
    if (this.ids.mustRaise) await this.ids.raise();
    const { key, slot, fingerprint } = this.keys.watermark(subject);
    const stored = parseEntryId(await this.scripts.brokerLastIdOrFloor(this.key(subject), key, slot, fingerprint));
    // A stream Redis lost entirely (FLUSHALL) continues above what this process gave out.
    return Math.max(stored, this.ids.highestOf(subject));
  }

  /** The first id still stored (0 when none) and the last id ever assigned (0 when none). */
  storedRange(subject: string): Promise<{ first: number; last: number }> {
    return this.errors.guard(this.readStoredRange(subject), "storedRange", subject);
  }

  private async readStoredRange(subject: string): Promise<{ first: number; last: number }> {
    const [first, last] = await this.scripts.brokerStoredRange(this.key(subject));
    return { first: parseEntryId(first), last: parseEntryId(last) };
  }

  readAfter(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    return this.errors.guard(this.readRange(subject, afterId, limit), "readAfter", subject);
  }

  private async readRange(subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    if (this.ids.mustRaise) await this.ids.raise();
    const entries = await this.commands.xrangeBuffer(this.key(subject), `(${entryId(afterId)}`, "+", "COUNT", limit);
    const messages = entries.map(([id, fields]) => decodeEntry(subject, id, fields));
    const first = messages[0];
    // Ids are contiguous per subject, so a jump past afterId + 1 means trimmed entries.
    const gap = first ? first.id > afterId + 1 : (await this.readLastId(subject)) > afterId;
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
        reject(new Error(`Redis at ${redactedUrl(this.options.url)} not reachable within ${timeoutMs} ms`));
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
    await this.sweeper.close();
    await Promise.all(this.readers.map((reader) => reader.close()));
    // QUIT fails when the connection is already down: then just drop it.
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

  /** The keys a script that may create the subject's stream touches: stream, registry, schedule, watermarks. */
  private creationKeys(subject: string): [string, string, string, string] {
    return [this.key(subject), this.keys.registry(), this.keys.expiries(), this.keys.watermark(subject).key];
  }

  /** When a new stream's first entry stops being needed (its place in the sweep's schedule). */
  private releaseAt(publishedAt: number, expiresAt: number): number {
    return expiresAt === FIRE_AND_FORGET ? publishedAt + this.options.catchUpRetentionMs : expiresAt;
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
