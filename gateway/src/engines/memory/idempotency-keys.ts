/**
 * The memory engine's idempotency keys: subject -> key -> the id it published
 * and the digest of the request that published it, until its window ends. Keys are forgotten in the order they were
 * remembered (a FIFO, since every key gets the same window), so forgetting
 * costs O(expired keys), not a walk over every subject.
 */
export interface RememberedPublish {
  readonly id: number;
  /** The digest of the request that published it (body and expiration), to tell a retry from another request. */
  readonly digest: string;
  readonly until: number;
}

export class IdempotencyKeys {
  private readonly bySubject = new Map<string, Map<string, RememberedPublish>>();
  private queue: { subject: string; key: string; until: number }[] = [];
  private head = 0;

  get(subject: string, key: string, now: number): RememberedPublish | undefined {
    const entry = this.bySubject.get(subject)?.get(key);
    return entry && entry.until > now ? entry : undefined;
  }

  remember(subject: string, key: string, id: number, digest: string, until: number): void {
    let keys = this.bySubject.get(subject);
    if (!keys) {
      keys = new Map();
      this.bySubject.set(subject, keys);
    }
    keys.set(key, { id, digest, until });
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
