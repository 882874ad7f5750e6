import type { StoredMessage } from "../../core/message.js";

/**
 * One subject's retained messages: ids are contiguous, so the log is an array
 * with a moving head and lookups by id are O(1).
 */
export class SubjectLog {
  /** Highest id ever assigned; kept when messages are released so ids are never reused. */
  lastId = 0;
  bytes = 0;
  private entries: StoredMessage[] = [];
  private head = 0;

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Id of the oldest retained message (lastId + 1 when empty). */
  get firstId(): number {
    return this.lastId - this.size + 1;
  }

  append(message: StoredMessage): void {
    this.entries.push(message);
    this.lastId = message.id;
    this.bytes += message.body.byteLength;
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

  /** Releases the oldest message. */
  dropOldest(): void {
    const message = this.entries[this.head];
    if (!message) return;
    this.head += 1;
    this.bytes -= message.body.byteLength;
    // Compact now and then so released messages can be collected.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
