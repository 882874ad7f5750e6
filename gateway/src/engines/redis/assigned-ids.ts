/**
 * The highest id this process has seen assigned on each subject: ids it was
 * given by XADD and ids its readers delivered.
 *
 * Redis can come back with less than it acknowledged: an OS crash under
 * `appendfsync everysec` loses the last second of the AOF, a FLUSHALL or a
 * restart without persistence loses everything. A stream's ids then start
 * again below ids already given to publishers and subscribers. Before writing
 * again the engine raises each stream's last id to what this process knows
 * (lua/raise-last-id.lua after a reconnect, and the floor of a recreated
 * stream), so those ids are never given out twice; the lost ones read as a
 * gap. Other processes' ids are known only if their messages were read here.
 */
export class AssignedIds {
  private readonly highest = new Map<string, number>();

  /** `maxSubjects` bounds the memory: past it the subjects noted first are forgotten. */
  constructor(private readonly maxSubjects = 100_000) {}

  note(subject: string, id: number): void {
    const known = this.highest.get(subject);
    if (known !== undefined && known >= id) return;
    if (known === undefined && this.highest.size >= this.maxSubjects) {
      const oldest = this.highest.keys().next().value;
      if (oldest !== undefined) this.highest.delete(oldest);
    }
    this.highest.set(subject, id);
  }

  highestOf(subject: string): number {
    return this.highest.get(subject) ?? 0;
  }

  entries(): [subject: string, id: number][] {
    return [...this.highest];
  }
}
