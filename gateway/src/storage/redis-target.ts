import { Cluster, Redis, type RedisOptions } from "ioredis";
import { ConfigError, type Env } from "../process/env.js";

/** A cluster node address, as given in REDIS_CLUSTER_NODES. */
export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the Redis data lives: one Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER_NODES, any of its nodes; the rest are discovered). The
 * gateway and the archiver read it the same way.
 */
export type RedisTarget =
  | { readonly kind: "standalone"; readonly url: string }
  | { readonly kind: "cluster"; readonly nodes: readonly NodeAddress[] };

/**
 * The target the environment names: REDIS_CLUSTER_NODES (`host:port,...`)
 * wins over REDIS_URL; neither: undefined.
 */
export function redisTargetFromEnv(env: Env): RedisTarget | undefined {
  const nodes = env.REDIS_CLUSTER_NODES?.trim();
  if (nodes) return { kind: "cluster", nodes: parseClusterNodes(nodes) };
  if (env.REDIS_URL) return { kind: "standalone", url: env.REDIS_URL };
  return undefined;
}

export function parseClusterNodes(text: string): NodeAddress[] {
  return text.split(",").map((item) => {
    const entry = item.trim();
    const colon = entry.lastIndexOf(":");
    const host = colon > 0 ? entry.slice(0, colon).replace(/^\[|\]$/g, "") : "";
    const port = Number(entry.slice(colon + 1));
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`REDIS_CLUSTER_NODES must list host:port pairs separated by commas, got '${entry}'`);
    }
    return { host, port };
  });
}

/** The target for messages and logs (no password). */
export function describeTarget(target: RedisTarget): string {
  if (target.kind === "cluster") return `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`;
  try {
    const parsed = new URL(target.url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return target.url;
  }
}

/**
 * Cluster options that never replay a write whose fate is unknown: a command
 * in flight on a master that dies fails with "Connection is closed." instead
 * of being sent again to the promoted replica (retryDelayOnFailover 0), which
 * could store it twice under two ids. Redirections (MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN) are followed: Redis did not run the command. The slot map is
 * refreshed every second, so a promoted replica is found soon after the
 * cluster elects it.
 */
const CLUSTER_OPTIONS = {
  enableOfflineQueue: false,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 100,
  retryDelayOnTryAgain: 50,
  maxRedirections: 16,
  slotsRefreshInterval: 1_000,
  slotsRefreshTimeout: 2_000,
  clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
} as const;

/**
 * The command client for a target: a `Redis` connection, or a `Cluster`
 * client with `redisOptions` applied to each node connection (its own
 * `retryStrategy` is the cluster's reconnect policy).
 */
export function connectCommands(
  target: RedisTarget,
  options: RedisOptions & { readonly autoPipelineCluster?: boolean },
): Redis | Cluster {
  const { autoPipelineCluster, ...redisOptions } = options;
  if (target.kind === "standalone") return new Redis(target.url, redisOptions);
  const { retryStrategy: _nodeRetry, ...nodeOptions } = redisOptions;
  return new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      ...CLUSTER_OPTIONS,
      // The cluster groups commands per node and pipelines them (PublishBatch across slots).
      enableAutoPipelining: autoPipelineCluster ?? false,
      redisOptions: nodeOptions,
    },
  );
}

/** True for a Cluster client (as opposed to one connection). */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return client instanceof Cluster;
}
