import type pg from "pg";

/**
 * One archived message by subject and id, as a pg Submittable: the archive's
 * hot read (Fetch of an id Redis has trimmed) without pg's generic query
 * path, which per lookup clones the query config, builds a Result with type
 * parsers and writes four protocol messages apart. Here a lookup is one
 * buffer (Bind, Execute, Sync of a statement the connection prepared once)
 * and one plain object per row; the connection's own parser still reads the
 * replies, so authentication, TLS, errors and timeouts stay pg's.
 */
export const LOOKUP_STATEMENT = "archive-lookup";
export const LOOKUP_SQL = "SELECT body, published_at, expires_at FROM broker_messages WHERE subject = $1 AND id = $2";

/** The row's columns as PostgreSQL's text format sends them (body as \x hex). */
export interface LookupRow {
  readonly body: string;
  readonly publishedAt: string;
  readonly expiresAt: string;
}

/** Connections on which the statement was sent (a failed lookup removes its connection: prepared again, after a Close). */
const prepared = new WeakSet<object>();

/** Close (of a statement that may not exist: not an error) and Parse, once per connection. */
const PREPARE = Buffer.concat([
  message(0x43, [Buffer.from("S"), cString(LOOKUP_STATEMENT)]),
  message(0x50, [cString(LOOKUP_STATEMENT), cString(LOOKUP_SQL), int16(0)]),
]);
/** Execute of the unnamed portal (all rows), then Sync. */
const EXECUTE_SYNC = Buffer.concat([message(0x45, [cString(""), int32(0)]), message(0x53, [])]);
const STATEMENT_NAME = cString(LOOKUP_STATEMENT);

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
    const bind = bindMessage(this.subject, this.id);
    if (prepared.has(connection)) {
      connection.stream.write(bind);
    } else {
      prepared.add(connection);
      connection.stream.write(Buffer.concat([PREPARE, bind]));
    }
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

/** Bind: unnamed portal, the lookup statement, two text parameters, text results; then Execute and Sync. */
function bindMessage(subject: string, id: number): Buffer {
  const idText = String(id);
  const subjectBytes = Buffer.byteLength(subject, "utf8");
  // code, length, portal "\0", statement name, 0 parameter formats, 2 parameters (length + bytes each), 0 result formats
  const bindLength = 4 + 1 + STATEMENT_NAME.length + 2 + 2 + 4 + subjectBytes + 4 + idText.length + 2;
  const out = Buffer.allocUnsafe(1 + bindLength + EXECUTE_SYNC.length);
  let at = out.writeUInt8(0x42, 0);
  at = out.writeInt32BE(bindLength, at);
  at = out.writeUInt8(0, at);
  at += STATEMENT_NAME.copy(out, at);
  at = out.writeInt16BE(0, at);
  at = out.writeInt16BE(2, at);
  at = out.writeInt32BE(subjectBytes, at);
  at += out.write(subject, at, "utf8");
  at = out.writeInt32BE(idText.length, at);
  at += out.write(idText, at, "latin1");
  at = out.writeInt16BE(0, at);
  EXECUTE_SYNC.copy(out, at);
  return out;
}

function message(code: number, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.allocUnsafe(5);
  head.writeUInt8(code, 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function cString(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

function int16(value: number): Buffer {
  const out = Buffer.allocUnsafe(2);
  out.writeInt16BE(value, 0);
  return out;
}

function int32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(value, 0);
  return out;
}
