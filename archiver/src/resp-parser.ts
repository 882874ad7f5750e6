/** An error reply (`-ERR ...`). */
export class RespError extends Error {}

/** A RESP2 reply: bulk strings stay bytes (Buffer views of what was received), never decoded. */
export type RespValue = Buffer | number | string | null | RespError | RespValue[];

const CR = 13;
const MINUS = 45;
const ZERO = 48;
const EMPTY = Buffer.alloc(0);

/** What parseOne found (kept in fields, not an object per element: replies have thousands). */
const VALUE = 0;
const ARRAY = 1;
const INCOMPLETE = 2;

/**
 * An incremental RESP2 parser (Redis's wire format): feed it the socket's
 * chunks, it calls `onReply` once per complete top-level reply. Arrays are
 * filled element by element, so a large reply split over many chunks is
 * parsed once, not again from its start at every chunk; the unparsed rest of
 * a chunk is joined with what follows only once enough bytes are there for
 * the element waiting (a large bulk string is joined once, not per chunk).
 * A malformed reply throws: the connection must then be dropped.
 */
export class RespParser {
  private buffer: Buffer = EMPTY;
  private offset = 0;
  /** Chunks received since the last parse. */
  private pending: Buffer[] = [];
  /** Bytes not parsed yet: `buffer` from `offset` on, and `pending`. */
  private pendingBytes = 0;
  /** How many of them the element waiting needs before parsing again is worth it. */
  private needed = 0;
  /** Arrays being filled, innermost last. */
  private readonly open: { items: RespValue[]; left: number }[] = [];

  constructor(private readonly onReply: (reply: RespValue) => void) {}

  feed(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes < this.needed) return;
    const rest = this.buffer.subarray(this.offset);
    this.buffer = rest.length === 0 && this.pending.length === 1 ? chunk : Buffer.concat([rest, ...this.pending]);
    this.offset = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.needed = 0;
    this.parse();
  }

  /** Forgets everything half-received (after the connection closed). */
  reset(): void {
    this.buffer = EMPTY;
    this.offset = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.needed = 0;
    this.open.length = 0;
  }

  private parse(): void {
    while (this.offset < this.buffer.length) {
      const found = this.parseOne(this.buffer, this.offset);
      if (found === INCOMPLETE) {
        // Keep the unparsed bytes; parse again once `needed` of them (from here) are there.
        this.pendingBytes = this.buffer.length - this.offset;
        this.needed = this.stepNeeded;
        return;
      }
      this.offset = this.stepEnd;
      if (found === ARRAY) this.open.push({ items: [], left: this.stepLength });
      else this.place(this.stepValue);
    }
    this.buffer = EMPTY;
    this.offset = 0;
  }

  // The last step's result.
  private stepValue: RespValue = null;
  private stepEnd = 0;
  private stepLength = 0;
  private stepNeeded = 0;

  /** Parses the element at `start`: VALUE (stepValue, stepEnd), ARRAY (stepLength, stepEnd) or INCOMPLETE (stepNeeded). */
  private parseOne(buffer: Buffer, start: number): number {
    const cr = buffer.indexOf(CR, start + 1);
    // The line and its LF must both be there.
    if (cr < 0 || cr + 1 >= buffer.length) {
      this.stepNeeded = buffer.length - start + 1;
      return INCOMPLETE;
    }
    const end = cr + 2;
    this.stepEnd = end;
    switch (buffer[start]) {
      case 0x24: {
        // $<length>\r\n<bytes>\r\n
        const length = integer(buffer, start + 1, cr);
        if (length < 0) this.stepValue = null;
        else if (end + length + 2 > buffer.length) {
          this.stepNeeded = end - start + length + 2;
          return INCOMPLETE;
        } else {
          this.stepValue = buffer.subarray(end, end + length);
          this.stepEnd = end + length + 2;
        }
        return VALUE;
      }
      case 0x2a: {
        // *<count>\r\n, then the elements
        const length = integer(buffer, start + 1, cr);
        if (length > 0) {
          this.stepLength = length;
          return ARRAY;
        }
        this.stepValue = length < 0 ? null : [];
        return VALUE;
      }
      case 0x3a:
        this.stepValue = integer(buffer, start + 1, cr);
        return VALUE;
      case 0x2b:
        this.stepValue = buffer.toString("utf8", start + 1, cr);
        return VALUE;
      case 0x2d:
        this.stepValue = new RespError(buffer.toString("utf8", start + 1, cr));
        return VALUE;
      default:
        throw new Error(`malformed RESP reply: type byte ${buffer[start]}`);
    }
  }

  /** Puts a value in the innermost open array, closing the arrays it completes. */
  private place(value: RespValue): void {
    let done = value;
    for (;;) {
      const array = this.open[this.open.length - 1];
      if (!array) {
        this.onReply(done);
        return;
      }
      array.items.push(done);
      array.left -= 1;
      if (array.left > 0) return;
      this.open.pop();
      done = array.items;
    }
  }
}

/** The integer written from `from` to `end` (a CR), with an optional minus sign. */
function integer(buffer: Buffer, from: number, end: number): number {
  const negative = buffer[from] === MINUS;
  let value = 0;
  for (let i = negative ? from + 1 : from; i < end; i++) {
    const digit = (buffer[i] as number) - ZERO;
    if (digit < 0 || digit > 9) throw new Error(`malformed RESP integer: ${buffer.toString("latin1", from, end)}`);
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}
