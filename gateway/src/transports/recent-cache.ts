/**
 * A small memo of the most recent entries (insertion order, oldest dropped
 * first), bounded by count and by bytes. For per-message wire forms shared by
 * the subscribers of a fan-out: they all ask within moments of each other, and
 * unlike a WeakMap it never keeps a value alive for as long as the engine
 * retains its message. The byte bound keeps large bodies from pinning memory
 * that slow subscribers are meant not to hold.
 */
export class RecentCache<K, V> {
  private readonly entries = new Map<K, { value: V; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    return this.entries.get(key)?.value;
  }

  set(key: K, value: V): void {
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes) return;
    const previous = this.entries.get(key);
    if (previous) this.bytes -= previous.bytes;
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value[0]);
      this.bytes -= oldest.value[1].bytes;
    }
  }
}
