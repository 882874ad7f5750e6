import type { Cluster, Redis } from "ioredis";
import type { RedisKeys } from "../../gateway/src/storage/redis-keys.js";
import { isCluster } from "../../gateway/src/storage/redis-target.js";

/**
 * The subjects to archive. Gateways add a subject to its partition's
 * registry set in the same script that creates its stream, so each refresh is
 * one SMEMBERS per partition (16), never a scan of the keyspace. The one scan
 * happens once at start (`seedFromKeyspace`, on every master of a cluster),
 * for streams created before the registries existed.
 */
export class SubjectDiscovery {
  private readonly subjects = new Set<string>();
  private refreshedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly keys: RedisKeys,
    private readonly refreshIntervalMs: number,
  ) {}

  /** Registers every existing stream under the prefix (SCAN, once per start). */
  async seedFromKeyspace(): Promise<number> {
    const nodes = isCluster(this.redis) ? this.redis.nodes("master") : [this.redis];
    let found = 0;
    for (const node of nodes) found += await this.seedFrom(node);
    return found;
  }

  private async seedFrom(node: Redis): Promise<number> {
    const pattern = this.keys.streamPattern();
    let cursor = "0";
    let found = 0;
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", "stream");
      cursor = next;
      const subjects = keys.map((key) => this.keys.subjectOf(key));
      for (const group of this.keys.groupByPartition(subjects, (subject) => subject)) {
        await this.redis.sadd(this.keys.registryOf(group[0] as string), ...group);
      }
      found += subjects.length;
    } while (cursor !== "0");
    return found;
  }

  /** The known subjects, re-reading the registries when the refresh interval has passed. */
  async current(now = Date.now()): Promise<string[]> {
    if (now - this.refreshedAt >= this.refreshIntervalMs) {
      const members = await Promise.all(this.keys.registries().map((key) => this.redis.smembers(key)));
      for (const subject of members.flat()) this.subjects.add(subject);
      this.refreshedAt = now;
    }
    return [...this.subjects];
  }
}
