import pg from "pg";

/**
 * A fixed set of long-lived PostgreSQL connections for the archive's reads,
 * in place of pg.Pool: Fetch of an archived id is a hot path, and the pool's
 * per-query checkout, release and idle timer cost more gateway CPU than the
 * lookup itself. A call goes to an idle connection, else opens another one
 * (up to `max`), else queues on the least busy one (pg.Client runs its queue
 * in order). A connection that fails is dropped; the next call reconnects.
 */
export interface PgConnectionsOptions {
  readonly url: string;
  readonly max: number;
  /** Connecting or a query taking longer fails instead of hanging a call. */
  readonly timeoutMs: number;
  readonly applicationName: string;
}

interface Slot {
  readonly client: pg.Client;
  readonly connected: Promise<pg.Client>;
  inFlight: number;
  dead: boolean;
}

export class PgConnections {
  private readonly slots: Slot[] = [];
  private closed = false;

  constructor(private readonly options: PgConnectionsOptions) {}

  /** Runs `use` on a connection; the connection counts as busy until the returned promise settles. */
  async run<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
    const slot = this.pick();
    slot.inFlight += 1;
    try {
      return await use(await slot.connected);
    } finally {
      slot.inFlight -= 1;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    // Ending a connection that already broke fails; it is gone either way.
    await Promise.all(slots.map((slot) => slot.client.end().catch(() => {})));
  }

  private pick(): Slot {
    if (this.closed) throw new Error("the archive's connections are closed");
    let best: Slot | undefined;
    for (const slot of this.slots) {
      if (slot.inFlight === 0) return slot;
      if (!best || slot.inFlight < best.inFlight) best = slot;
    }
    if (best && this.slots.length >= this.options.max) return best;
    return this.open();
  }

  private open(): Slot {
    const client = new pg.Client({
      connectionString: this.options.url,
      connectionTimeoutMillis: this.options.timeoutMs,
      query_timeout: this.options.timeoutMs,
      application_name: this.options.applicationName,
    });
    const slot: Slot = {
      client,
      connected: client.connect().then(() => client),
      inFlight: 0,
      dead: false,
    };
    const drop = () => {
      if (slot.dead) return;
      slot.dead = true;
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      // Ending a broken connection may fail; it is dropped either way.
      client.end().catch(() => {});
    };
    // A failed connect or a lost socket: queries on it fail (pg errors them), later ones reconnect.
    slot.connected.catch(drop);
    client.on("error", drop);
    client.on("end", drop);
    this.slots.push(slot);
    return slot;
  }
}
