/**
 * Per subject, the highest id known to be trimmed from the hot engine. Redis
 * assigns ids contiguously and only ever trims a stream from its oldest end,
 * so once a Fetch finds id n missing below the stream's last id, every id up
 * to n is gone from Redis too: later Fetches of those ids can go straight to
 * the archive (one round trip instead of three).
 *
 * Knowledge only, never authority: a caller that does not find the id in the
 * archive falls back to asking the hot engine, so a stale entry (Redis lost
 * the stream and reused ids) costs a round trip, not a wrong answer.
 */
export class TrimmedIds {
  private readonly through = new Map<string, number>();

  /** At most `maxSubjects` remembered; the least recently learned is forgotten first. */
  constructor(private readonly maxSubjects = 10_000) {}

  /** Whether `id` is known to be no longer in the hot engine. */
  has(subject: string, id: number): boolean {
    return id <= (this.through.get(subject) ?? 0);
  }

  /** Records that `id` (and so every id below it) is no longer in the hot engine. */
  learn(subject: string, id: number): void {
    const known = this.through.get(subject) ?? 0;
    if (id <= known) return;
    this.through.delete(subject); // re-inserted last: Map order is the eviction order
    this.through.set(subject, id);
    if (this.through.size > this.maxSubjects) {
      const oldest = this.through.keys().next().value as string;
      this.through.delete(oldest);
    }
  }
}
