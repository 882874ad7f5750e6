/**
 * Open connections of one process, across its ports. `tryOpen` counts one and
 * returns its release (idempotent), or undefined when the process is full.
 */
export class ConnectionLimiter {
  private openCount = 0;

  constructor(readonly max: number) {}

  get count(): number {
    return this.openCount;
  }

  tryOpen(): (() => void) | undefined {
    if (this.openCount >= this.max) return undefined;
    this.openCount += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openCount -= 1;
    };
  }
}
