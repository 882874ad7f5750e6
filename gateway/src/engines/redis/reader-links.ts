import { type Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisKeys } from "../../storage/redis-keys.js";
import { isCluster, type RedisTarget } from "../../storage/redis-target.js";
import type { ReaderLink } from "./stream-reader.js";

/**
 * The links of the engine's readers: on one Redis `readerConnections` fixed
 * connections (any subject on any of them); on a cluster one SlotLink per key
 * partition, plus the control connections they share.
 */
export function readerLinks(
  commands: Redis | Cluster,
  target: RedisTarget,
  keys: RedisKeys,
  options: {
    readonly nodeOptions: RedisOptions;
    readonly readerConnections: number;
    readonly instrument?: ((connection: Redis, role: "reader") => void) | undefined;
  },
): { links: ReaderLink[]; controls: ControlConnections | undefined } {
  const links: ReaderLink[] = [];
  if (isCluster(commands)) {
    const controls = new ControlConnections(
      nodeConnection({ ...options.nodeOptions, connectionName: "broker-control" }, false),
    );
    for (let partition = 0; partition < keys.partitions; partition++) {
      const open = nodeConnection({ ...options.nodeOptions, connectionName: `broker-reader-${partition}` }, true);
      const instrumented = (host: string, port: number) => {
        const connection = open(host, port);
        options.instrument?.(connection, "reader");
        return connection;
      };
      links.push(new SlotLink(commands, keys.slotOf(partition), controls, instrumented));
    }
    return { links, controls };
  }
  const url = target.kind === "standalone" ? target.url : "";
  for (let i = 0; i < options.readerConnections; i++) {
    const connection = new Redis(url, { ...options.nodeOptions, connectionName: `broker-reader-${i}` });
    connection.on("error", () => {});
    options.instrument?.(connection, "reader");
    links.push(new FixedLink(connection, commands as Redis));
  }
  return { links, controls: undefined };
}

/** One Redis: the reader's own connection, unblocked through the command connection. */
export class FixedLink implements ReaderLink {
  constructor(
    private readonly reader: Redis,
    private readonly commands: Redis,
  ) {}

  async connection(): Promise<Redis> {
    return this.reader;
  }

  control(): Redis {
    return this.commands;
  }

  failed(): void {}

  close(): void {
    this.reader.disconnect();
  }
}

/** Connections to cluster nodes for CLIENT UNBLOCK, one per node, shared by the readers on it. */
export class ControlConnections {
  private readonly byNode = new Map<string, Redis>();

  constructor(private readonly open: (host: string, port: number) => Redis) {}

  forNode(node: string): Redis {
    let connection = this.byNode.get(node);
    if (!connection) {
      const { host, port } = splitNode(node);
      connection = this.open(host, port);
      this.byNode.set(node, connection);
    }
    return connection;
  }

  close(): void {
    for (const connection of this.byNode.values()) connection.disconnect();
    this.byNode.clear();
  }
}

/**
 * A reader of one hash slot on Redis Cluster: its own connection to the
 * master serving the slot (a blocking XREAD through the Cluster client would
 * stall every other command to that node, and CLIENT UNBLOCK sent through it
 * goes to a random node). After MOVED (a reshard moved the slot) it connects
 * to the node the reply names; after any other failure (a master died) it
 * asks the Cluster client's slot map, which follows failovers, and moves
 * when the owner changed.
 */
export class SlotLink implements ReaderLink {
  private current: { readonly node: string; readonly redis: Redis } | undefined;
  private movedTo: string | undefined;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly slot: number,
    private readonly controls: ControlConnections,
    private readonly open: (host: string, port: number) => Redis,
  ) {}

  async connection(): Promise<Redis> {
    if (this.closed) throw new Error("reader closed");
    const owner = this.movedTo ?? this.cluster.slots[this.slot]?.[0];
    this.movedTo = undefined;
    if (owner === undefined) {
      this.cluster.refreshSlotsCache();
      throw new Error(`no master known for hash slot ${this.slot}`);
    }
    if (this.current?.node === owner) return this.current.redis;
    this.current?.redis.disconnect();
    const { host, port } = splitNode(owner);
    const redis = this.open(host, port);
    this.current = { node: owner, redis };
    await redis.connect();
    return redis;
  }

  control(): Redis | undefined {
    return this.current ? this.controls.forNode(this.current.node) : undefined;
  }

  failed(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const moved = /^MOVED \d+ (\S+)/.exec(message);
    if (moved?.[1]) this.movedTo = moved[1];
    // Whatever failed, the slot map may be stale (a failover, a reshard): refresh it.
    this.cluster.refreshSlotsCache();
  }

  close(): void {
    this.closed = true;
    this.current?.redis.disconnect();
  }
}

/**
 * A standalone connection to one cluster node, failing fast like the
 * engine's others; `lazy`: connected by the caller (`connect()`).
 */
export function nodeConnection(options: RedisOptions, lazy: boolean): (host: string, port: number) => Redis {
  return (host, port) => {
    const redis = new Redis({ ...options, host, port, lazyConnect: lazy });
    redis.on("error", () => {}); // surfaced by the reads that fail
    return redis;
  };
}

function splitNode(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(":");
  return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) };
}
