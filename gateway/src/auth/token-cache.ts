/**
 * A bounded, approximately least-recently-used map: a Map keeps insertion
 * order, so the first entry is the one to evict, and a hit moves its entry
 * to the end. Moving costs a delete and an insert (about 1 µs, twice a plain
 * lookup), so a hit moves its entry at most once per `touchIntervalMs`:
 * recency is tracked to that granularity, which is all eviction needs.
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; touchedAt: number }>();

  constructor(
    private readonly capacity: number,
    private readonly touchIntervalMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (now - entry.touchedAt >= this.touchIntervalMs) {
      entry.touchedAt = now;
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, touchedAt: this.now() });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
