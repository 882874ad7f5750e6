/**
 * A memo that lives for one turn of the event loop: emptied by the next
 * setImmediate after it is first filled, and bounded by bytes meanwhile.
 *
 * For the per-message wire forms that all subscribers of a fan-out ask for:
 * the fan-out offers a message to every subscription at once, and their
 * streams encode and write it within the same turn, so one turn is enough to
 * share the work. Entries then die young. A cache that outlived its turn
 * (the recent 4,096 messages, as before) kept every delivered message, its
 * MessageResponse and its encoding alive across scavenges (~2 s at 2,000
 * messages/s), so all were copied and promoted, and only full collections
 * freed them. A subscriber that writes later (it waited for the client to
 * drain) encodes again, which is cheap.
 */
export class TurnCache<K, V> {
  private entries = new Map<K, V>();
  private bytes = 0;
  private clearing = false;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    const bytes = this.sizeOf(value);
    if (this.bytes + bytes > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += bytes;
    if (!this.clearing) {
      this.clearing = true;
      setImmediate(() => this.clear());
    }
  }

  private clear(): void {
    this.entries = new Map();
    this.bytes = 0;
    this.clearing = false;
  }
}
