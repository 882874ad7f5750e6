/** HTTP/2 frame types, flags and settings (RFC 9113) the lean client uses. */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
} as const;

export const Setting = {
  ENABLE_PUSH: 0x2,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
} as const;

export const FRAME_HEADER_BYTES = 9;
export const MAX_WINDOW = 2 ** 31 - 1;
export const DEFAULT_WINDOW = 65_535;
export const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** Writes a frame header at `pos` of `out`; returns the position after it. */
export function writeFrameHeader(
  out: Buffer,
  pos: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): number {
  out[pos] = (length >>> 16) & 0xff;
  out[pos + 1] = (length >>> 8) & 0xff;
  out[pos + 2] = length & 0xff;
  out[pos + 3] = type;
  out[pos + 4] = flags;
  out.writeUInt32BE(streamId, pos + 5);
  return pos + FRAME_HEADER_BYTES;
}

/** A whole control frame with the given payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function settings(values: readonly [id: number, value: number][]): Buffer {
  const payload = Buffer.allocUnsafe(6 * values.length);
  values.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

/**
 * Splits a byte stream into frames, calling `onFrame` with each frame's
 * header fields and its payload as a range of a buffer (no copy unless a
 * frame spans socket reads).
 */
export class FrameReader {
  private partial: Buffer | undefined;

  constructor(
    private readonly onFrame: (
      type: number,
      flags: number,
      streamId: number,
      buffer: Buffer,
      start: number,
      end: number,
    ) => void,
  ) {}

  push(chunk: Buffer): void {
    let buffer = chunk;
    if (this.partial) {
      buffer = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    let pos = 0;
    while (buffer.length - pos >= FRAME_HEADER_BYTES) {
      const length = (buffer[pos] as number) * 65_536 + (buffer[pos + 1] as number) * 256 + (buffer[pos + 2] as number);
      const end = pos + FRAME_HEADER_BYTES + length;
      if (end > buffer.length) break;
      const type = buffer[pos + 3] as number;
      const flags = buffer[pos + 4] as number;
      const streamId = buffer.readUInt32BE(pos + 5) & 0x7fffffff;
      this.onFrame(type, flags, streamId, buffer, pos + FRAME_HEADER_BYTES, end);
      pos = end;
    }
    if (pos < buffer.length) this.partial = Buffer.from(buffer.subarray(pos));
  }
}
