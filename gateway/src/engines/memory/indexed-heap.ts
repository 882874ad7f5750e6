/** Where an item sits in its heap (-1: not in it); the item carries it so removal is O(log n). */
export interface HeapSlot<T> {
  get(item: T): number;
  set(item: T, index: number): void;
}

/**
 * A binary min-heap whose items know their position, so an item can be
 * re-keyed or removed without a search. The memory engine keeps its subjects
 * in two of these (by next release time, by oldest message), which makes the
 * expiry sweep and the byte-budget eviction cost O(log subjects) per message
 * released instead of a walk over every subject.
 */
export class IndexedHeap<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly key: (item: T) => number,
    private readonly slot: HeapSlot<T>,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  /** Adds the item, or moves it to where its current key belongs. */
  upsert(item: T): void {
    const index = this.slot.get(item);
    if (index < 0) {
      this.items.push(item);
      this.slot.set(item, this.items.length - 1);
      this.up(this.items.length - 1);
      return;
    }
    this.down(this.up(index));
  }

  remove(item: T): void {
    const index = this.slot.get(item);
    if (index < 0) return;
    this.slot.set(item, -1);
    const last = this.items.pop() as T;
    if (index === this.items.length) return;
    this.items[index] = last;
    this.slot.set(last, index);
    this.down(this.up(index));
  }

  private up(index: number): number {
    const item = this.items[index] as T;
    const key = this.key(item);
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = this.items[parent] as T;
      if (this.key(above) <= key) break;
      this.items[i] = above;
      this.slot.set(above, i);
      i = parent;
    }
    this.items[i] = item;
    this.slot.set(item, i);
    return i;
  }

  private down(index: number): void {
    const item = this.items[index] as T;
    const key = this.key(item);
    const n = this.items.length;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.key(this.items[right] as T) < this.key(this.items[left] as T) ? right : left;
      const below = this.items[child] as T;
      if (this.key(below) >= key) break;
      this.items[i] = below;
      this.slot.set(below, i);
      i = child;
    }
    this.items[i] = item;
    this.slot.set(item, i);
  }
}
