import type { Redis } from "ioredis";
import type { RedisKeys } from "../../gateway/src/storage/redis-keys.js";

/**
 * The subjects to archive. Gateways add a subject to the registry set in the
 * same script that creates its stream, so each refresh is one SMEMBERS of
 * that set, never a scan of the keyspace. The one scan happens once at start
 * (`seedFromKeyspace`), for streams created before the registry existed.
 */
export class SubjectDiscovery {
  private subjects = new Set<string>();
  private refreshedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly refreshIntervalMs: number,
  ) {}

  get registryKey(): string {
    return this.keys.registry();
  }

  /** Registers every existing stream under the prefix (SCAN, once per start). */
  async seedFromKeyspace(): Promise<number> {
    const pattern = this.keys.streamPattern();
    let cursor = "0";
    let found = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", pattern, "COUNT", 1000, "TYPE", "stream");
      cursor = next;
      const subjects = keys.map((key) => this.keys.subjectOf(key));
      if (subjects.length > 0) {
        await this.redis.sadd(this.registryKey, ...subjects);
        found += subjects.length;
      }
    } while (cursor !== "0");
    return found;
  }

  /** The known subjects, re-reading the registry when the refresh interval has passed. */
  async current(now = Date.now()): Promise<string[]> {
    if (now - this.refreshedAt >= this.refreshIntervalMs) {
      // The registry loses a subject when the gateways' sweep deletes its stream, which it does only
      // once nothing in it can be fetched (so nothing is left to archive): forget it here too.
      this.subjects = new Set(await this.redis.smembers(this.registryKey));
      this.refreshedAt = now;
    }
    return [...this.subjects];
  }
}
