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

/**
 * Keeps a process's ids above what Redis may have lost: notes every id given
 * out or delivered, and after the command connection closed (Redis may come
 * back with less than it acknowledged) raises each known stream to the
 * highest id noted, once, before the next write or read of a position.
 * Concurrent callers share one pass; a failed pass is retried by the next.
 */
export class IdContinuity {
  private readonly assigned = new AssignedIds();
  /** Set when the command connection closed; the hot path checks only this flag. */
  mustRaise = false;
  /** Counts closes, so a pass that raced a close does not clear `mustRaise`. */
  private closes = 0;
  private raising: Promise<void> | undefined;

  constructor(private readonly raiseStream: (subject: string, id: number) => Promise<unknown>) {}

  note(subject: string, id: number): void {
    this.assigned.note(subject, id);
  }

  highestOf(subject: string): number {
    return this.assigned.highestOf(subject);
  }

  connectionClosed(): void {
    this.closes += 1;
    this.mustRaise = true;
  }

  raise(): Promise<void> {
    if (!this.raising) {
      this.raising = (async () => {
        try {
          const closes = this.closes;
          await Promise.all(this.assigned.entries().map(([subject, id]) => this.raiseStream(subject, id)));
          if (this.closes === closes) this.mustRaise = false;
        } finally {
          this.raising = undefined;
        }
      })();
    }
    return this.raising;
  }
}
