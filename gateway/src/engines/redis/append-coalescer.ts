import type { StoredMessage } from "../../core/message.js";
import type { BatchItem } from "../engine.js";

interface PendingAppend extends BatchItem {
  resolve(message: StoredMessage): void;
  reject(err: unknown): void;
}

/**
 * Group commit for single publishes: appends to the same subject that arrive
 * in the same event-loop turn (e.g. many concurrent Publish calls read from
 * one socket) go to Redis as one batch script call instead of one XADD each.
 * Each ioredis command costs the gateway more CPU than the Redis work it
 * asks for, so under load this cuts CPU per publish; a lone append still goes
 * out as one XADD, in the same turn plus one setImmediate.
 * Ids stay consecutive in arrival order; a failed batch fails each of its
 * appends, as separate failures would.
 */
export class AppendCoalescer {
  private pending = new Map<string, PendingAppend[]>();
  private scheduled = false;

  constructor(
    private readonly appendOne: (subject: string, body: Uint8Array, expiresAt: number) => Promise<StoredMessage>,
    private readonly appendMany: (subject: string, items: readonly BatchItem[]) => Promise<StoredMessage[]>,
    /** Most appends in one batch (bounds the script's run time in Redis). */
    private readonly maxBatch = 256,
  ) {}

  append(subject: string, body: Uint8Array, expiresAt: number): Promise<StoredMessage> {
    return new Promise((resolve, reject) => {
      let queue = this.pending.get(subject);
      if (!queue) {
        queue = [];
        this.pending.set(subject, queue);
      }
      queue.push({ body, expiresAt, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const pending = this.pending;
    this.pending = new Map();
    this.scheduled = false;
    for (const [subject, queue] of pending) {
      for (let start = 0; start < queue.length; start += this.maxBatch) {
        this.send(subject, queue.slice(start, start + this.maxBatch));
      }
    }
  }

  private send(subject: string, group: PendingAppend[]): void {
    const [only] = group;
    if (group.length === 1 && only) {
      this.appendOne(subject, only.body, only.expiresAt).then(only.resolve, only.reject);
      return;
    }
    this.appendMany(subject, group).then(
      (messages) => {
        for (const [i, item] of group.entries()) item.resolve(messages[i] as StoredMessage);
      },
      (err: unknown) => {
        for (const item of group) item.reject(err);
      },
    );
  }
}
