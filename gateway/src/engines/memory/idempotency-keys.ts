/**
 * The memory engine's idempotency keys: subject -> key -> the id it published,
 * until its window ends. Keys are forgotten in the order they were
 * remembered (a FIFO, since every key gets the same window), so forgetting
 * costs O(expired keys), not a walk over every subject.
 */
export class IdempotencyKeys {
  private readonly bySubject = new Map<string, Map<string, { id: number; until: number }>>();
  private queue: { subject: string; key: string; until: number }[] = [];
  private head = 0;

  get(subject: string, key: string, now: number): number | undefined {
    const entry = this.bySubject.get(subject)?.get(key);
    return entry && entry.until > now ? entry.id : undefined;
  }

  remember(subject: string, key: string, id: number, until: number): void {
    let keys = this.bySubject.get(subject);
    if (!keys) {
      keys = new Map();
      this.bySubject.set(subject, keys);
    }
    keys.set(key, { id, until });
    this.queue.push({ subject, key, until });
  }

  forgetExpired(now: number): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as { subject: string; key: string; until: number };
      if (next.until > now) break;
      this.head += 1;
      const keys = this.bySubject.get(next.subject);
      // A key remembered again later has a later `until`: keep it.
      if (keys?.get(next.key)?.until === next.until) keys.delete(next.key);
      if (keys?.size === 0) this.bySubject.delete(next.subject);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
