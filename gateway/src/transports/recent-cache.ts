/**
 * A small memo of the most recent entries (insertion order, oldest dropped
 * first). For per-message wire forms shared by the subscribers of a fan-out:
 * they all ask within moments of each other, and unlike a WeakMap it never
 * keeps a value alive for as long as the engine retains its message.
 */
export class RecentCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}
