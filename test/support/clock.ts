/**
 * A clock for expiry tests: real time plus an offset that `advance` moves
 * forward, so a test says "1.1 s later" instead of sleeping. Pass `now` to
 * Gateway.start (or Broker / MemoryEngine); timers inside Redis (PX) still
 * run on Redis's own clock.
 */
export class TestClock {
  private offset = 0;

  readonly now = (): number => Date.now() + this.offset;

  advance(ms: number): void {
    this.offset += ms;
  }
}
