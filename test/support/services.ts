import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { RedisKeys, subjectRegistryKey } from "../../gateway/src/storage/redis-keys.js";

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

/** Deletes every key under a prefix (a test's cleanup). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { protocol: 2 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Deletes a gateway's keys: every stream under its key prefix, its subject registry and the sweep's keys. */
export async function deleteGatewayKeys(url: string, prefix: string): Promise<void> {
  // A gateway pointed at a replica (the readiness tests) wrote nothing there, and a replica refuses DEL.
  const probe = new Redis(url, { protocol: 2 });
  try {
    const [role] = (await probe.role()) as [string];
    if (role !== "master") return;
  } finally {
    probe.disconnect();
  }
  await deleteKeys(url, prefix);
  await deleteKeys(url, subjectRegistryKey(prefix));
  const keys = new RedisKeys(prefix);
  const redis = new Redis(url, { protocol: 2 });
  try {
    await redis.del(keys.expiries(), keys.watermark("").key, keys.sweeperLock());
  } finally {
    redis.disconnect();
  }
}
