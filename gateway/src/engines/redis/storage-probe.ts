import type { Cluster, Redis } from "ioredis";

/** How often the probe looks at the Redis node(s). */
export const PROBE_INTERVAL_MS = 1_000;

/** What the probe asks of the engine's connections. */
export interface ProbeTarget {
  /** The command connection (standalone) or client (cluster). */
  readonly commands: Redis | Cluster;
  /** True when the engine runs on Redis Cluster (REDIS_CLUSTER_NODES). */
  readonly cluster: boolean;
  /** Where the engine connects, for messages. */
  readonly describe: string;
  /** On a cluster: the hash slots the keys live in (one per key partition); each needs a reachable master. */
  readonly slots: readonly number[];
  /** Why live reads fail right now (a reader that keeps failing), if they do. */
  readerProblem(): string | undefined;
}

/**
 * Whether Redis can serve the gateway right now, beyond "the socket is
 * connected": a node in cluster mode that the gateway talks to as standalone
 * answers every key with MOVED or CLUSTERDOWN; a replica answers writes with
 * READONLY; a node loading its dataset answers LOADING; a cluster whose state
 * is not ok answers CLUSTERDOWN. Each of those leaves the connection "ready",
 * so the probe asks the node (INFO, CLUSTER INFO) once a second, and the
 * readiness probes (/readyz, gRPC health) report what it found.
 */
export class StorageProbe {
  private problem: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private running = false;

  constructor(private readonly target: ProbeTarget) {
    this.timer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Why storage cannot serve, or undefined when it can. */
  notReadyReason(): string | undefined {
    const { commands } = this.target;
    if (commands.status !== "ready") return "storage unreachable";
    return this.problem ?? this.target.readerProblem();
  }

  /** Looks now (also run by the timer); resolves when done. */
  async probe(): Promise<void> {
    if (this.running || this.target.commands.status !== "ready") return;
    this.running = true;
    try {
      this.problem = this.target.cluster ? await this.probeCluster() : await this.probeStandalone();
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async probeStandalone(): Promise<string | undefined> {
    const commands = this.target.commands as Redis;
    const info = await infoOf(commands);
    if (typeof info === "string") return info;
    if (info.get("cluster_enabled") === "1") {
      return `Redis at ${this.target.describe} runs in cluster mode (it answers MOVED / CLUSTERDOWN); set REDIS_CLUSTER_NODES instead of REDIS_URL`;
    }
    if (info.get("loading") === "1") return `Redis at ${this.target.describe} is loading its dataset (LOADING)`;
    if (info.get("role") === "slave") {
      const master = `${info.get("master_host") ?? "?"}:${info.get("master_port") ?? "?"}`;
      return `Redis at ${this.target.describe} is a replica of ${master} (writes fail with READONLY); point REDIS_URL at the master`;
    }
    return undefined;
  }

  private async probeCluster(): Promise<string | undefined> {
    const cluster = this.target.commands as Cluster;
    const masters = cluster.nodes("master");
    if (masters.length === 0) return "Redis Cluster: no master known";
    const ready = new Set(
      masters.filter((node) => node.status === "ready").map((node) => `${node.options.host}:${node.options.port}`),
    );
    for (const slot of this.target.slots) {
      const owner = cluster.slots[slot]?.[0];
      if (owner === undefined) return `Redis Cluster: no master known for hash slot ${slot}`;
      if (!ready.has(owner)) return `Redis Cluster master ${owner} (hash slot ${slot}) unreachable`;
    }
    for (const node of masters) {
      const where = `${node.options.host}:${node.options.port}`;
      if (node.status !== "ready") return `Redis Cluster master ${where} unreachable`;
      const state = await clusterStateOf(node);
      if (state !== "ok") return `Redis Cluster master ${where}: cluster_state ${state} (CLUSTERDOWN)`;
      const info = await infoOf(node);
      if (typeof info === "string") return `Redis Cluster master ${where}: ${info}`;
      if (info.get("loading") === "1") return `Redis Cluster master ${where} is loading its dataset (LOADING)`;
    }
    return undefined;
  }
}

/** INFO's fields, or why it could not be read (a reply error such as LOADING). */
async function infoOf(node: Redis): Promise<Map<string, string> | string> {
  let text: string;
  try {
    text = await node.info();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // An ACL that forbids INFO says nothing about the data path; the readers' signal still does.
    if (message.startsWith("NOPERM")) return new Map();
    return message.startsWith("LOADING") ? "loading its dataset (LOADING)" : `INFO failed: ${message}`;
  }
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

async function clusterStateOf(node: Redis): Promise<string> {
  try {
    const text = (await node.cluster("INFO")) as string;
    return /cluster_state:(\w+)/.exec(text)?.[1] ?? "unknown";
  } catch (err) {
    return `unknown (${err instanceof Error ? err.message : String(err)})`;
  }
}
