import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { from as copyFromStdin } from "pg-copy-streams";

/**
 * Runs `COPY <target> FROM STDIN ...` (`text`) with `data`'s chunks, in
 * order, as the whole input; returns the rows copied. pg-copy-streams does
 * the protocol (CopyData, CopyDone, errors); it defines the query's
 * `callback`, which the pg instrumentation wraps to end its span.
 */
export async function copyFrom(client: pg.ClientBase, text: string, data: readonly Buffer[]): Promise<number> {
  const copy = client.query(copyFromStdin(text));
  await pipeline(Readable.from(data.filter((chunk) => chunk.length > 0)), copy);
  return copy.rowCount;
}
