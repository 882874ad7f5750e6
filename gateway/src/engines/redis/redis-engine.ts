import type { Cluster, Redis, RedisOptions } from "ioredis";
import type { BatchItem, Engine, FeedListener, ReadAfterResult } from "../../core/engine.js";
import type { StoredMessage } from "../../core/message.js";
import { DEFAULT_KEY_PREFIX, RedisKeys } from "../../storage/redis-keys.js";
import { defineScripts } from "../../storage/redis-scripts.js";
import { connectCommands, describeTarget, type NodeAddress, type RedisTarget } from "../../storage/redis-target.js";
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
import { type ControlConnections, readerLinks } from "./reader-links.js";
import { ReplicaAck } from "./replica-ack.js";
import { StorageProbe } from "./storage-probe.js";
import { StreamReader } from "./stream-reader.js";
import { TurnBatcher } from "./turn-batcher.js";

export interface RedisEngineOptions {
  /** One Redis; ignored when `clusterNodes` is set. */
  readonly url?: string;
  /** Redis Cluster: some of its nodes (the rest are discovered). */
  readonly clusterNodes?: readonly NodeAddress[];
  /** Prefix of every key the broker writes. */
  readonly keyPrefix: string;
  /** Entries kept per subject stream (approximate MAXLEN trimming). */
  readonly maxLenPerSubject: number;
  /**
   * Blocking connections reading live messages, each for a share of the
   * subjects (one Redis). On Redis Cluster there is one per key partition
   * instead, each connected to the master serving the partition's slot.
   */
  readonly readerConnections: number;
  /** Replicas that must confirm each write (WAIT) before it is acknowledged; 0: none (asynchronous). */
  readonly minReplicasAck?: number;
  /** A command that takes longer fails (UNAVAILABLE) instead of hanging. */
  readonly commandTimeoutMs: number;
  readonly readBlockMs: number;
  readonly readCount: number;
  /**
   * The highest id ever used on a subject outside Redis (the archive), asked
   * only when a publish finds the subject's stream missing: new or lost.
   */
  readonly idFloor?: (subject: string) => Promise<number>;
  /** Called with each connection (or cluster client) the engine opens (command metrics, in practice). */
  readonly instrument?: (connection: Redis | Cluster, role: "commands" | "reader") => void;
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

export const DEFAULT_REDIS_OPTIONS: Omit<RedisEngineOptions, "url" | "clusterNodes"> = {
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
 * connections per process stays fixed however many clients subscribe. On
 * Redis Cluster every command goes through ioredis' Cluster client (each
 * touches one subject, so one slot; see redis-keys.ts) and each key
 * partition has a reader of its own on the master serving it.
 */
export class RedisEngine implements Engine {
  private readonly commands: Redis | Cluster;
  private readonly target: RedisTarget;
  private readonly controls: ControlConnections | undefined;
  private readonly replicaAck: ReplicaAck | undefined;
  private readonly keys: RedisKeys;
  private readonly readers: StreamReader[] = [];
  private readonly probe: StorageProbe;
  private listener: FeedListener = { messages() {}, lost() {} };
  /** Concurrent appends and gets on one subject share a script call (see TurnBatcher). */
  private readonly appends = new TurnBatcher<BatchItem, StoredMessage>(
    (subject, item) => this.appendOne(subject, item.body, item.expiresAt),
    (subject, items) => this.storeBatch(subject, items),
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
    this.target = options.clusterNodes
      ? { kind: "cluster", nodes: options.clusterNodes }
      : { kind: "standalone", url: options.url ?? "redis://127.0.0.1:6379" };
    this.commands = connectCommands(this.target, {
      ...FAIL_FAST,
      // No auto-pipelining on one Redis: the TurnBatchers already group a
      // turn's requests and send them on a corked socket (see corked.ts). On a
      // cluster it groups each turn's commands per node into one pipeline.
      enableAutoPipelining: false,
      autoPipelineCluster: true,
      commandTimeout: options.commandTimeoutMs,
      connectionName: "broker-commands",
    });
    this.commands.on("error", () => {}); // surfaced per command as UNAVAILABLE
    options.instrument?.(this.commands, "commands");
    defineScripts(this.commands);
    this.replicaAck = options.minReplicasAck
      ? // WAIT must answer before the command timeout cuts it.
        new ReplicaAck(this.commands, options.minReplicasAck, Math.max(100, Math.floor(options.commandTimeoutMs / 2)))
      : undefined;
    const readerOptions = { blockMs: options.readBlockMs, count: options.readCount, maxRetryDelayMs: 1_000 };
    const sink = {
      messages: (subject: string, messages: StoredMessage[]) => this.listener.messages(subject, messages),
      lost: (subject: string, lastId: number) => this.listener.lost(subject, lastId),
      lastId: (subject: string) => this.lastId(subject),
    };
    const { links, controls } = readerLinks(this.commands, this.target, this.keys, {
      nodeOptions: FAIL_FAST,
      readerConnections: options.readerConnections,
      instrument: options.instrument,
    });
    this.controls = controls;
    for (const link of links) this.readers.push(new StreamReader(link, this.keys, readerOptions, sink));
    this.probe = new StorageProbe({
      commands: this.commands,
      cluster: this.target.kind === "cluster",
      describe: describeTarget(this.target),
      slots: Array.from({ length: this.keys.partitions }, (_, partition) => this.keys.slotOf(partition)),
      readerProblem: () => this.readerProblem(),
    });
  }

  async append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    const message = await this.appends.submit(subject, { body, expiresAt });
    await this.replicated(subject);
    return message;
  }

  /** With REDIS_MIN_REPLICAS_ACK: waits until the subject's writes so far are on enough replicas. */
  private async replicated(subject: string): Promise<void> {
    await this.replicaAck?.after(this.keys.slotOf(this.keys.partitionOf(subject)));
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
        this.keys.registryOf(subject),
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
    const registry = this.keys.registryOf(subject);
    const args = [this.options.maxLenPerSubject, idempotency.windowMs, asBuffer(body), Date.now(), expiresAt, subject];
    const reply = await this.withFloor(subject, (floor) =>
      this.scripts.brokerAppendOnce(key, onceKey, registry, floor, ...args),
    );
    const [id, duplicate] = reply as [string, number];
    await this.replicated(subject);
    return { id: parseEntryId(id), duplicate: duplicate === 1 };
  }

  async appendBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    const stored = await this.storeBatch(subject, items);
    await this.replicated(subject);
    return stored;
  }

  private async storeBatch(subject: string, items: readonly BatchItem[]): Promise<StoredMessage[]> {
    const publishedAt = Date.now();
    const key = this.key(subject);
    const registry = this.keys.registryOf(subject);
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
        reject(new Error(`Redis (${describeTarget(this.target)}) not reachable within ${timeoutMs} ms`));
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
    this.controls?.close();
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
    // On a cluster a reader's XREAD may only name keys of its partition's slot.
    if (this.controls) return this.readers[this.keys.partitionOf(subject)] as StreamReader;
    let hash = 0;
    for (let i = 0; i < subject.length; i++) hash = (hash * 31 + subject.charCodeAt(i)) | 0;
    return this.readers[Math.abs(hash) % this.readers.length] as StreamReader;
  }
}

/** A Buffer view of the same bytes (no copy), as ioredis sends Buffers verbatim. */
function asBuffer(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
