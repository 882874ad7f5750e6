import type { StoredMessage } from "../../core/message.js";

/**
 * One subject's retained messages: ids are contiguous, so the log is an array
 * with a moving head and lookups by id are O(1). A log exists only while it
 * holds messages (the engine deletes an emptied one and keeps its last id in
 * IdFloors); `releaseIndex` and `ageIndex` are its places in the engine's two
 * heaps.
 */
export class SubjectLog {
  /** Highest id ever assigned; starts at the subject's floor so ids are never reused. */
  lastId: number;
  /** What the retained messages cost, as the engine accounts it (see memory-costs.ts). */
  bytes = 0;
  releaseIndex = -1;
  ageIndex = -1;
  private entries: StoredMessage[] = [];
  private head = 0;

  constructor(
    /** The one copy of the subject string every message of the log refers to. */
    readonly subject: string,
    floor: number,
  ) {
    this.lastId = floor;
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Id of the oldest retained message (lastId + 1 when empty). */
  get firstId(): number {
    return this.lastId - this.size + 1;
  }

  append(message: StoredMessage, cost: number): void {
    this.entries.push(message);
    this.lastId = message.id;
    this.bytes += cost;
  }

  get(id: number): StoredMessage | undefined {
    if (id < this.firstId || id > this.lastId) return undefined;
    return this.entries[this.head + (id - this.firstId)];
  }

  after(afterId: number, limit: number): StoredMessage[] {
    const from = Math.max(afterId + 1, this.firstId);
    const start = this.head + (from - this.firstId);
    return this.entries.slice(start, start + limit);
  }

  oldest(): StoredMessage | undefined {
    return this.entries[this.head];
  }

  /** Releases the oldest message, whose accounted cost was `cost`. */
  dropOldest(cost: number): void {
    if (this.head >= this.entries.length) return;
    this.entries[this.head] = undefined as unknown as StoredMessage;
    this.head += 1;
    this.bytes -= cost;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      // Compact now and then so the array's released slots are given back.
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
