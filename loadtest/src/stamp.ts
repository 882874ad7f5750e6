/**
 * A body carrying the wall-clock time the message was due to be sent
 * (float64 ms) and a sequence number, padded to `size` bytes (at least 12).
 * The due time, not the moment the load client got round to sending it: a
 * stall of the client counts as latency too.
 */
export function stampedBody(seq: number, dueAtWallMs: number, size = 128): Uint8Array {
  const body = new Uint8Array(Math.max(12, size));
  const view = new DataView(body.buffer);
  view.setFloat64(0, dueAtWallMs);
  view.setUint32(8, seq);
  return body;
}

export function readStamp(body: Uint8Array): { sentAt: number; seq: number } {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  return { sentAt: view.getFloat64(0), seq: view.getUint32(8) };
}

/** Sequence numbers from here on mark warm-up messages. */
export const WARM_UP_SEQ = 0x80000000;

/** Tracks which sequence numbers one subscriber has seen. */
export class Receiver {
  readonly seen: Uint8Array;
  received = 0;
  duplicates = 0;
  outOfOrder = 0;
  warmUps = 0;
  private lastId = 0;
  constructor(expected: number) {
    this.seen = new Uint8Array(expected);
  }
  /** `seq` from the body says which message it is; ids must only grow on a subscription. */
  take(seq: number, id: number): void {
    if (id <= this.lastId) this.outOfOrder += 1;
    this.lastId = id;
    if (this.seen[seq]) this.duplicates += 1;
    else {
      this.seen[seq] = 1;
      this.received += 1;
    }
  }
}
