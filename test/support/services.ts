import { randomUUID } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import type { NodeAddress } from "../../gateway/src/storage/redis-target.js";

/**
 * The shared services of the development and CI machines. Tests use them for
 * real and fail loudly when they are down (.ci/run starts them first).
 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A key prefix no other test uses, so tests can share one Redis. */
export function uniquePrefix(name: string): string {
  return `test:${name}:${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key matching a SCAN pattern on one node, one key at a time (any slot). */
async function deleteMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    await Promise.all(keys.map((key) => redis.del(key)));
  } while (cursor !== "0");
}

/** Deletes every key under a prefix (a test's cleanup). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { protocol: 2 });
  try {
    await deleteMatching(redis, `${prefix}*`);
  } finally {
    redis.disconnect();
  }
}

/**
 * Deletes a gateway's keys: every key of its subjects under its key prefix
 * and its subject registries (redis-keys.ts), on one Redis or on every
 * master of a cluster (`nodes`).
 */
export async function deleteGatewayKeys(target: string | readonly NodeAddress[], prefix: string): Promise<void> {
  const keys = new RedisKeys(prefix);
  const patterns = [keys.streamPattern(), keys.registryPattern()];
  if (typeof target === "string") {
    const redis = new Redis(target, { protocol: 2 });
    try {
      for (const pattern of patterns) await deleteMatching(redis, pattern);
    } finally {
      redis.disconnect();
    }
    return;
  }
  const cluster = new Cluster(
    target.map((n) => ({ host: n.host, port: n.port })),
    { redisOptions: { protocol: 2 } },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once("ready", resolve);
      cluster.once("error", reject);
    });
    for (const node of cluster.nodes("master")) {
      for (const pattern of patterns) await deleteMatching(node, pattern);
    }
  } finally {
    cluster.disconnect();
  }
}
