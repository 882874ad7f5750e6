interface Pending<I, O> {
  readonly item: I;
  resolve(result: O): void;
  reject(err: unknown): void;
}

/**
 * Group commit for Redis commands: requests for the same key (subject) that
 * arrive in the same event-loop turn (e.g. many concurrent calls read from
 * one socket) go to Redis as one batch (a script call) instead of one command
 * each. Each ioredis command costs the gateway more CPU than the Redis work
 * it asks for, so under load this cuts CPU per call; a lone request still
 * goes out alone, one setImmediate later. A turn's sends run inside `inTurn`
 * (the Redis engine corks its socket there, a patch, so they leave in one write).
 * Results come back in request order; a failed batch fails each of its
 * requests, as separate failures would.
 */
export class TurnBatcher<I, O> {
  private pending = new Map<string, Pending<I, O>[]>();
  private scheduled = false;

  constructor(
    private readonly sendOne: (key: string, item: I) => Promise<O>,
    private readonly sendMany: (key: string, items: readonly I[]) => Promise<O[]>,
    /** Most requests in one batch (bounds a script's run time in Redis). */
    private readonly maxBatch = 256,
    /** Runs a turn's sends (all issued synchronously), e.g. on a corked socket so they leave in one write. */
    private readonly inTurn: (sendAll: () => void) => void = (sendAll) => sendAll(),
  ) {}

  submit(key: string, item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      let queue = this.pending.get(key);
      if (!queue) {
        queue = [];
        this.pending.set(key, queue);
      }
      queue.push({ item, resolve, reject });
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
    this.inTurn(() => {
      for (const [key, queue] of pending) {
        for (let start = 0; start < queue.length; start += this.maxBatch) {
          this.send(key, queue.slice(start, start + this.maxBatch));
        }
      }
    });
  }

  private send(key: string, group: Pending<I, O>[]): void {
    const [only] = group;
    if (group.length === 1 && only) {
      this.sendOne(key, only.item).then(only.resolve, only.reject);
      return;
    }
    this.sendMany(
      key,
      group.map((p) => p.item),
    ).then(
      (results) => {
        for (const [i, p] of group.entries()) p.resolve(results[i] as O);
      },
      (err: unknown) => {
        for (const p of group) p.reject(err);
      },
    );
  }
}
