import type pg from "pg";

/** The parts of node-postgres's connection a COPY FROM STDIN uses (not all in @types/pg). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

type Done = (err: Error | null, result?: { rowCount: number }) => void;

/**
 * `COPY ... FROM STDIN` of buffers that are already in the COPY format,
 * as a node-postgres "submittable" (the interface pg-cursor and
 * pg-copy-streams build on), so no streaming dependency is needed for data
 * that is in memory anyway. The result goes to `callback`, as for pg's own
 * queries: the pg instrumentation wraps that callback to end its span.
 */
class CopyFromBuffer {
  private rowCount = 0;

  constructor(
    readonly text: string,
    private readonly data: readonly Buffer[],
    public callback: Done,
  ) {}

  /**
   * The data goes right behind the statement, not after PostgreSQL's
   * CopyInResponse: that saves a round trip through this process's event
   * loop, which under load is the slow part of a batch. It is safe: if the
   * COPY fails before reading its input, PostgreSQL skips CopyData and
   * CopyDone messages that arrive outside copy mode (its protocol says so:
   * "the frontend is still sending data").
   */
  submit(connection: CopyConnection): void {
    connection.query(this.text);
    for (const chunk of this.data) if (chunk.length > 0) connection.sendCopyFromChunk(chunk);
    connection.endCopyFrom();
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text: string }): void {
    // "COPY <rows>"
    this.rowCount = Number(message.text.slice(message.text.indexOf(" ") + 1));
  }

  /** A server error ends the query here: node-postgres sends it no readyForQuery after one. */
  handleError(err: Error): void {
    this.callback(err);
  }

  handleReadyForQuery(): void {
    this.callback(null, { rowCount: this.rowCount });
  }

  // Messages a COPY FROM never gets; node-postgres calls them on any active query.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Runs `COPY <target> FROM STDIN ...` (`text`) with `data`'s chunks, in order, as the whole input; returns the rows copied. */
export function copyFrom(client: pg.ClientBase, text: string, data: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const copy = new CopyFromBuffer(text, data, (err, result) => (err ? reject(err) : resolve(result?.rowCount ?? 0)));
    client.query(copy as unknown as pg.Submittable);
  });
}
