/**
 * Where a subject's ids continue after its storage was deleted, in a table of
 * fixed size. Engines delete a subject once nothing of it is left to fetch;
 * the table keeps its last id so a later publish continues above it and an id
 * is never handed out twice. Per-subject memory would grow with every subject
 * ever seen, so the table has `SLOTS` slots, chosen by a hash of the subject;
 * each slot holds the last id and a fingerprint of the one subject deleted
 * into it, or, once two different subjects met there, the highest last id of
 * all of them ("merged"). A subject whose slot is empty, or holds another
 * subject's fingerprint, never had its ids recorded: it starts at 1. A subject
 * in a merged slot starts above that slot's floor: its ids may begin above 1
 * (never reused, only less dense). The same layout is used in Redis
 * (storage/lua/*.lua read and write it with BITFIELD) and in the memory engine.
 */
export const FLOOR_SLOTS = 65_536;

/** A fingerprint value no subject gets: the slot holds several subjects. */
export const MERGED_FINGERPRINT = 0xffff_ffff;

export interface FloorSlot {
  readonly slot: number;
  /** 1 ..= 0xFFFFFFFE (0 means an empty slot, 0xFFFFFFFF a merged one). */
  readonly fingerprint: number;
}

/** The slot and fingerprint of a subject: two FNV-1a hashes of its UTF-16 code units with different seeds. */
export function floorSlot(subject: string, slots = FLOOR_SLOTS): FloorSlot {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < subject.length; i++) {
    const c = subject.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const fingerprint = (b >>> 0) % 0xffff_fffe;
  return { slot: (a >>> 0) % slots, fingerprint: fingerprint + 1 };
}

/** The memory engine's table (Redis keeps the same one in a string; see RedisKeys.watermark). */
export class IdFloors {
  private readonly fingerprints: Uint32Array;
  private readonly floors: Float64Array;

  constructor(private readonly slots = FLOOR_SLOTS) {
    this.fingerprints = new Uint32Array(slots);
    this.floors = new Float64Array(slots);
  }

  /** The highest id a deleted subject may have used (0 when it never had any recorded). */
  floor(subject: string): number {
    const { slot, fingerprint } = floorSlot(subject, this.slots);
    const held = this.fingerprints[slot] as number;
    return held === fingerprint || held === MERGED_FINGERPRINT ? (this.floors[slot] as number) : 0;
  }

  /** Records a deleted subject's last id. */
  record(subject: string, lastId: number): void {
    const { slot, fingerprint } = floorSlot(subject, this.slots);
    const held = this.fingerprints[slot] as number;
    if (held !== 0 && held !== fingerprint) this.fingerprints[slot] = MERGED_FINGERPRINT;
    else this.fingerprints[slot] = fingerprint;
    this.floors[slot] = Math.max(this.floors[slot] as number, lastId);
  }

  /** Bytes the table holds (fixed). */
  get bytes(): number {
    return this.slots * (Uint32Array.BYTES_PER_ELEMENT + Float64Array.BYTES_PER_ELEMENT);
  }
}
