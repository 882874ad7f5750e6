/** A one-line progress display on stderr (rewritten in place on a terminal, plain lines otherwise). */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private lastPlain = 0;

  update(text: string): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text}`);
      return;
    }
    // Off a terminal (CI), one line every 2 s at most.
    const now = Date.now();
    if (now - this.lastPlain < 2_000) return;
    this.lastPlain = now;
    process.stderr.write(`${text}\n`);
  }

  done(text: string): void {
    if (this.tty) process.stderr.write("\r\x1b[2K");
    process.stderr.write(`${text}\n`);
    this.lastPlain = 0;
  }
}

export const progress = new Progress();
