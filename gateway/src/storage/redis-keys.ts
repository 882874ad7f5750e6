import { type FloorSlot, floorSlot } from "../core/id-floors.js";

/**
 * The Redis key schema: every key the gateway and the archiver read or write,
 * named in one place. Both processes build their keys through `RedisKeys`, so
 * a change of layout (hash tags for Redis Cluster, say) is made here only.
 *
 * Layout for the prefix "broker:stream:" (REDIS_KEY_PREFIX):
 * - `broker:stream:<subject>`: the subject's stream (entries: stream-entry.ts).
 * - `broker:stream:<subject>` + 0xFF + `<idempotency key>`: the id a keyed
 *   publish got, kept for the idempotency window. 0xFF never occurs in UTF-8,
 *   so no subject and key pair can collide with another.
 * - `broker:stream|subjects`: the set of every subject that has a stream
 *   (the subject registry), added to in the script that creates a stream and
 *   read by the archiver to find new subjects without scanning all keys. The
 *   prefix's last character is replaced by "|subjects", so the key does not
 *   start with the prefix and no subject's stream key can ever equal it.
 * - `broker:stream|expiries`: a sorted set of every subject that has a
 *   stream, scored by when its oldest entry stops being needed (see
 *   engines/redis/redis-sweeper.ts), so the sweep reads only what is due.
 * - `broker:stream|watermarks`: the id floors of deleted streams, a string
 *   read and written with BITFIELD as a table of FLOOR_SLOTS 96-bit slots
 *   (core/id-floors.ts): slot s holds a u32 fingerprint at bit 96*s and the
 *   i64 last id at bit 96*s+32.
 * - `broker:stream|sweeper`: the lock naming the one gateway process sweeping.
 */
export const DEFAULT_KEY_PREFIX = "broker:stream:";

const IDEMPOTENCY_SEPARATOR = Buffer.from([0xff]);

export class RedisKeys {
  constructor(readonly prefix: string = DEFAULT_KEY_PREFIX) {}

  /** The subject's stream. */
  stream(subject: string): string {
    return this.prefix + subject;
  }

  /** The subject a stream key belongs to (the inverse of `stream`). */
  subjectOf(streamKey: string): string {
    return streamKey.slice(this.prefix.length);
  }

  /** A SCAN pattern matching every stream key (glob characters in the prefix escaped). */
  streamPattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
  }

  /** The key that remembers a keyed publish's id for the idempotency window. */
  idempotency(subject: string, key: string): Buffer {
    return Buffer.concat([Buffer.from(this.stream(subject)), IDEMPOTENCY_SEPARATOR, Buffer.from(key)]);
  }

  /** The subject registry (a set of subjects). */
  registry(): string {
    return subjectRegistryKey(this.prefix);
  }

  /** The sweep's schedule: subjects with a stream, scored by when their oldest entry is releasable. */
  expiries(): string {
    return siblingKey(this.prefix, "expiries");
  }

  /** Where the subject's last id is kept once its stream is deleted: the table's key and the subject's slot in it. */
  watermark(subject: string): FloorSlot & { readonly key: string } {
    return { key: siblingKey(this.prefix, "watermarks"), ...floorSlot(subject) };
  }

  /** The lock held by the gateway process that sweeps. */
  sweeperLock(): string {
    return siblingKey(this.prefix, "sweeper");
  }
}

/** A key beside the streams that no stream key can equal (see the registry in the layout above). */
function siblingKey(keyPrefix: string, name: string): string {
  return subjectRegistryKey(keyPrefix).replace(/subjects$/, name);
}

/** The subject registry's key for a stream key prefix (see the layout above). */
export function subjectRegistryKey(keyPrefix: string): string {
  if (keyPrefix.length === 0) return "broker|subjects";
  return `${keyPrefix.slice(0, -1)}${keyPrefix.endsWith("|") ? "!" : "|"}subjects`;
}
