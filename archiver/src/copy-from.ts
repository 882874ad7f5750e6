import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { type CopyStreamQuery, from as copyFromStdin } from "pg-copy-streams";

/**
 * Runs `COPY <target> FROM STDIN ...` (`text`) with `data`'s chunks, in
 * order, as the whole input; returns the rows copied. pg-copy-streams does
 * the protocol (CopyData, CopyDone, errors).
 */
export async function copyFrom(client: pg.ClientBase, text: string, data: readonly Buffer[]): Promise<number> {
  const copy = copyFromStdin(text) as CopyStreamQuery & { callback: () => void };
  // pg-copy-streams calls `callback` when the COPY ends (it is empty, there
  // for pg to wrap), but defines it on its prototype, and the pg
  // instrumentation, which ends the query's span from it, only sees own
  // properties: without this the COPY's span never ends (is never exported).
  copy.callback = () => {};
  client.query(copy);
  await pipeline(Readable.from(data.filter((chunk) => chunk.length > 0)), copy);
  return copy.rowCount;
}
