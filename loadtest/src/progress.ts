/** A one-line progress display on stderr (rewritten in place on a terminal, plain lines otherwise). */
export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private lastWrite = 0;

  update(text: string): void {
    // On a terminal ten times a second at most (the load loops call this per turn, and a
    // terminal write is synchronous); off a terminal (CI), one line every 2 s at most.
    const now = Date.now();
    if (now - this.lastWrite < (this.tty ? 100 : 2_000)) return;
    this.lastWrite = now;
    process.stderr.write(this.tty ? `\r\x1b[2K${text}` : `${text}\n`);
  }

  done(text: string): void {
    if (this.tty) process.stderr.write("\r\x1b[2K");
    process.stderr.write(`${text}\n`);
    this.lastWrite = 0;
  }
}

export const progress = new Progress();
