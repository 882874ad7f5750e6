import type pg from "pg";
import { serialize } from "pg-protocol";
import { patchEnabled } from "./index.js";

/**
 * Patch: pg 8.23.1, its undocumented Submittable contract (client.query(x)
 * calls x.submit(connection) and then x.handleDataRow / handleReadyForQuery /
 * handleError ... as replies arrive) and `Connection.stream`.
 *
 * One archived message by subject and id: the archive's hot read (Fetch of an
 * id Redis has trimmed) without pg's generic query path, which per lookup
 * clones the query config, builds a Result with type parsers and writes four
 * protocol messages apart. Here a lookup is Bind, Execute and Sync of a
 * statement the connection prepared once, written together, and one plain
 * object per row; pg-protocol (pg's own serializer) encodes the messages, and
 * the connection's parser still reads the replies, so authentication, TLS,
 * errors and timeouts stay pg's.
 *
 * Measured 2026-12-03 (npm run bench:patches, ArchiveStore.get in process, 16
 * in flight over 4 connections, off/on/off/on): 68-86 us of client CPU per
 * lookup against 115-232 us with pg's query path, ratio 0.45. Shape test: test/patches.test.ts.
 * Off: pg's own client.query with a named statement (archive-store.ts).
 */
export const LOOKUP_STATEMENT = "archive-lookup";
export const LOOKUP_SQL = "SELECT body, published_at, expires_at FROM broker_messages WHERE subject = $1 AND id = $2";

/** The row's columns as PostgreSQL's text format sends them (body as \x hex). */
export interface LookupRow {
  readonly body: string;
  readonly publishedAt: string;
  readonly expiresAt: string;
}

export function pointLookupPatch(): boolean {
  return patchEnabled("pg-point-lookup");
}

/** Connections on which the statement was sent (a failed lookup removes its connection: prepared again, after a Close). */
const prepared = new WeakSet<object>();

/** Close (of a statement that may not exist: not an error) and Parse, once per connection. */
const PREPARE = Buffer.concat([
  serialize.close({ type: "S", name: LOOKUP_STATEMENT }),
  serialize.parse({ name: LOOKUP_STATEMENT, text: LOOKUP_SQL }),
]);
/** Execute of the unnamed portal (all rows), then Sync. */
const EXECUTE_SYNC = Buffer.concat([serialize.execute({}), serialize.sync()]);

export class PointLookup implements pg.Submittable {
  private row: LookupRow | undefined;
  private done = false;

  constructor(
    private readonly subject: string,
    private readonly id: number,
    /** pg wraps it (its query timeout); called once, with the row or undefined. */
    public callback: (err: Error | null, row?: LookupRow) => void,
  ) {}

  submit(connection: pg.Connection): void {
    const stream = connection.stream;
    const bind = serialize.bind({ statement: LOOKUP_STATEMENT, values: [this.subject, String(this.id)] });
    // One write (writev) for what a lookup sends.
    stream.cork();
    if (!prepared.has(connection)) {
      prepared.add(connection);
      stream.write(PREPARE);
    }
    stream.write(bind);
    stream.write(EXECUTE_SYNC);
    stream.uncork();
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    const [body, publishedAt, expiresAt] = msg.fields;
    if (typeof body === "string" && typeof publishedAt === "string" && typeof expiresAt === "string") {
      this.row = { body, publishedAt, expiresAt };
    }
  }

  handleReadyForQuery(): void {
    this.finish(null);
  }

  handleError(err: Error, connection?: pg.Connection): void {
    // Whatever failed, prepare again on this connection next time (the Close makes that safe).
    if (connection) prepared.delete(connection);
    this.finish(err);
  }

  handleRowDescription(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}

  private finish(err: Error | null): void {
    if (this.done) return;
    this.done = true;
    if (err) this.callback(err);
    else this.callback(null, this.row);
  }
}
