/**
 * The Redis key schema: every key the gateway and the archiver read or write,
 * named in one place. Both processes build their keys through `RedisKeys`.
 *
 * Subjects are hashed into `PARTITIONS` (16) partitions; every key of a
 * subject starts with its partition's hash tag `{T}`, so on Redis Cluster all
 * keys of one partition live in one hash slot. That is what lets one script
 * touch a subject's stream, its idempotency keys and the partition's subject
 * registry, and one XREAD read many subjects of a partition at once. The 16
 * tags are chosen so their slots are spread evenly over 0..16383 (partition p
 * in [p·1024, (p+1)·1024)), so a cluster whose masters own equal slot ranges
 * gets an equal share of partitions. The same layout is used on standalone
 * Redis (where the tags cost nothing), so moving from one Redis to a cluster
 * needs no key migration.
 *
 * Layout for the prefix "broker:stream:" (REDIS_KEY_PREFIX), `{T}` being the
 * subject's partition tag:
 * - `{T}broker:stream:<subject>`: the subject's stream (entries: stream-entry.ts).
 * - `{T}broker:stream:<subject>` + 0xFF + `<idempotency key>`: the id a keyed
 *   publish got, kept for the idempotency window. 0xFF never occurs in UTF-8,
 *   so no subject and key pair can collide with another.
 * - `{T}broker:stream|subjects`: the subject registry of partition T (a set
 *   of the subjects of that partition that have a stream), added to in the
 *   script that creates a stream and read by the archiver to find new
 *   subjects without scanning all keys. The prefix's last character is
 *   replaced by "|subjects", so no subject's stream key can ever equal it.
 * - Any further per-subject key must be built with `subjectKey`, so it shares
 *   the subject's tag (and slot).
 *
 * Changing PARTITIONS or the tags renames every key: it is part of the schema.
 * Before this layout (until December 2026) keys had no tag
 * (`broker:stream:<subject>`); docs/scaling.md says how to migrate.
 */
export const DEFAULT_KEY_PREFIX = "broker:stream:";

/** Partitions of the subject space; part of the key schema (see above). */
export const PARTITIONS = 16;

/** Hash slots of Redis Cluster. */
export const SLOTS = 16384;

const IDEMPOTENCY_SEPARATOR = Buffer.from([0xff]);

export class RedisKeys {
  /** The partitions' hash tags, `{T}` with braces, by partition. */
  readonly tags: readonly string[] = PARTITION_TAGS;

  constructor(readonly prefix: string = DEFAULT_KEY_PREFIX) {}

  get partitions(): number {
    return PARTITIONS;
  }

  /** The subject's partition: FNV-1a of its UTF-8 bytes, modulo PARTITIONS. */
  partitionOf(subject: string): number {
    let hash = 0x811c9dc5;
    for (const byte of Buffer.from(subject, "utf8")) {
      hash ^= byte;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % PARTITIONS;
  }

  /** The Redis Cluster hash slot every key of the partition lives in. */
  slotOf(partition: number): number {
    return PARTITION_SLOTS[partition] as number;
  }

  /** The subject's stream. */
  stream(subject: string): string {
    return this.subjectKey(subject, "");
  }

  /** A key of the subject's own, `suffix` after its stream key, in the subject's slot. */
  subjectKey(subject: string, suffix: string): string {
    return `${this.tags[this.partitionOf(subject)]}${this.prefix}${subject}${suffix}`;
  }

  /** The subject a stream key belongs to (the inverse of `stream`). */
  subjectOf(streamKey: string): string {
    return streamKey.slice(streamKey.indexOf("}") + 1 + this.prefix.length);
  }

  /** A SCAN pattern matching every stream key (glob characters in the prefix escaped). */
  streamPattern(): string {
    return `{*}${escapeGlob(this.prefix)}*`;
  }

  /** A SCAN pattern matching every subject registry. */
  registryPattern(): string {
    return `{*}${escapeGlob(registryName(this.prefix))}`;
  }

  /** The key that remembers a keyed publish's id for the idempotency window. */
  idempotency(subject: string, key: string): Buffer {
    return Buffer.concat([Buffer.from(this.stream(subject)), IDEMPOTENCY_SEPARATOR, Buffer.from(key)]);
  }

  /** The registry of the subject's partition. */
  registryOf(subject: string): string {
    return this.registry(this.partitionOf(subject));
  }

  /** The subject registry of a partition (a set of subjects). */
  registry(partition: number): string {
    return `${this.tags[partition]}${registryName(this.prefix)}`;
  }

  /**
   * `items` grouped by their subject's partition, in their order within each
   * group; empty partitions are left out. Commands naming several subjects
   * (XREAD) or pipelined together must stay within one group on a cluster.
   */
  groupByPartition<T>(items: readonly T[], subjectOf: (item: T) => string): T[][] {
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const partition = this.partitionOf(subjectOf(item));
      let group = groups.get(partition);
      if (!group) {
        group = [];
        groups.set(partition, group);
      }
      group.push(item);
    }
    return [...groups.values()];
  }

  /** Every partition's subject registry, by partition. */
  registries(): string[] {
    return this.tags.map((_, partition) => this.registry(partition));
  }
}

/** The registry's name after the tag (see the layout above). */
function registryName(keyPrefix: string): string {
  if (keyPrefix.length === 0) return "broker|subjects";
  return `${keyPrefix.slice(0, -1)}${keyPrefix.endsWith("|") ? "!" : "|"}subjects`;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Redis Cluster's key hash: CRC16 (XMODEM) of the key, modulo 16384 (no tag inside `text`). */
export function hashSlot(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, "utf8")) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

/**
 * For each partition p, the first decimal number whose slot falls in
 * [p·SLOTS/PARTITIONS, (p+1)·SLOTS/PARTITIONS): tags spread evenly over the
 * slots, and fixed forever by this rule.
 */
function partitionTags(): { tags: string[]; slots: number[] } {
  const tags: string[] = [];
  const slots: number[] = [];
  const width = SLOTS / PARTITIONS;
  for (let p = 0; p < PARTITIONS; p++) {
    for (let n = 0; ; n++) {
      const slot = hashSlot(String(n));
      if (slot >= p * width && slot < (p + 1) * width) {
        tags.push(`{${n}}`);
        slots.push(slot);
        break;
      }
    }
  }
  return { tags, slots };
}

const { tags: PARTITION_TAGS, slots: PARTITION_SLOTS } = partitionTags();
