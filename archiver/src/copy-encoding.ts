import type { StoredMessage } from "../../gateway/src/storage/stream-entry.js";

/**
 * PostgreSQL's binary COPY format for broker_messages rows (subject text, id
 * bigint, body bytea, published_at bigint, expires_at bigint). Binary, not
 * text: bodies go as their own bytes (no hex or escaping on either side) and
 * numbers as 8 bytes, which is what makes COPY cheap for PostgreSQL to parse.
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4
 */
export const MESSAGE_COLUMNS = "(subject, id, body, published_at, expires_at)";

/** The input's start: "PGCOPY\n\377\r\n\0", then flags and header-extension length, both 0. */
export const COPY_HEADER = Buffer.concat([Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)]);
/** The input's end: a field count of -1. */
export const COPY_TRAILER = Buffer.from([0xff, 0xff]);
const FIELDS = 5;
/** Per row: field count (2) + 5 length words (20) + 3 bigints (24); subject and body bytes come on top. */
const ROW_FIXED_BYTES = 2 + FIELDS * 4 + 3 * 8;
const TWO_TO_32 = 2 ** 32;

/** A bigint field (length 8, then the value) from a safe integer; negative values too. */
function writeInt64(out: Buffer, offset: number, value: number): number {
  const high = Math.floor(value / TWO_TO_32);
  out.writeInt32BE(8, offset);
  out.writeInt32BE(high, offset + 4);
  out.writeUInt32BE(value - high * TWO_TO_32, offset + 8);
  return offset + 12;
}

function writeBytes(out: Buffer, offset: number, bytes: Uint8Array): number {
  out.writeInt32BE(bytes.length, offset);
  out.set(bytes, offset + 4);
  return offset + 4 + bytes.length;
}

/**
 * The rows as COPY tuples, without header and trailer, so the tuples of
 * several subjects can be prepared apart and sent together.
 */
export function encodeCopyTuples(rows: readonly StoredMessage[]): Buffer {
  // Rows come grouped by subject: each subject's UTF-8 is made once.
  const subjects = new Map<string, Buffer>();
  let size = 0;
  for (const row of rows) {
    let subject = subjects.get(row.subject);
    if (!subject) {
      subject = Buffer.from(row.subject, "utf8");
      subjects.set(row.subject, subject);
    }
    size += ROW_FIXED_BYTES + subject.length + row.body.length;
  }
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const row of rows) {
    out.writeInt16BE(FIELDS, offset);
    offset = writeBytes(out, offset + 2, subjects.get(row.subject) as Buffer);
    offset = writeInt64(out, offset, row.id);
    offset = writeBytes(out, offset, row.body);
    offset = writeInt64(out, offset, row.publishedAt);
    offset = writeInt64(out, offset, row.expiresAt);
  }
  return out;
}

/** The whole COPY input for `rows`: header, tuples, trailer. */
export function encodeMessagesForCopy(rows: readonly StoredMessage[]): Buffer[] {
  return [COPY_HEADER, encodeCopyTuples(rows), COPY_TRAILER];
}
