import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type MessageResponse,
  MessageResponseSchema,
  type PublishRequest,
  PublishRequestSchema,
  type PublishResponse,
  PublishResponseSchema,
} from "../../../gen/broker/broker_pb.js";

/**
 * A hand-written protobuf encoder for MessageResponse, the message on the hot
 * paths of Fetch and Subscribe. It writes exactly the bytes protobuf-es's
 * reflection-based toBinary writes (fields in number order, proto3 defaults
 * omitted; test/message-codec.test.ts compares them) without its per-field
 * reflection and intermediate buffers. Anything unusual (a gap, unknown
 * fields, negative or huge numbers) goes through toBinary.
 *
 * An encoding is kept for as long as its message object lives (weakly), so a
 * message fanned out to many subscribers is encoded once.
 */
const encoded = new WeakMap<MessageResponse, Buffer>();

export function encodeMessageResponse(message: MessageResponse): Buffer {
  let bytes = encoded.get(message);
  if (!bytes) {
    bytes = encodeFast(message) ?? Buffer.from(toBinary(MessageResponseSchema, message));
    encoded.set(message, bytes);
  }
  return bytes;
}

const MAX_FAST = BigInt(Number.MAX_SAFE_INTEGER);

function encodeFast(message: MessageResponse): Buffer | undefined {
  const { body, id, subject, publishedAtMs } = message;
  if (message.gap !== undefined || (message.$unknown && message.$unknown.length > 0)) return undefined;
  if (id < 0n || id > MAX_FAST || publishedAtMs < 0n || publishedAtMs > MAX_FAST) return undefined;
  const idNumber = Number(id);
  const publishedNumber = Number(publishedAtMs);
  const subjectBytes = subject.length === 0 ? 0 : Buffer.byteLength(subject, "utf8");
  let size = 0;
  if (body.byteLength > 0) size += 1 + varintSize(body.byteLength) + body.byteLength;
  if (idNumber !== 0) size += 1 + varintSize(idNumber);
  if (subjectBytes > 0) size += 1 + varintSize(subjectBytes) + subjectBytes;
  if (publishedNumber !== 0) size += 1 + varintSize(publishedNumber);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  if (body.byteLength > 0) {
    out[pos++] = 0x0a; // field 1, length-delimited
    pos = writeVarint(out, pos, body.byteLength);
    out.set(body, pos);
    pos += body.byteLength;
  }
  if (idNumber !== 0) {
    out[pos++] = 0x10; // field 2, varint
    pos = writeVarint(out, pos, idNumber);
  }
  if (subjectBytes > 0) {
    out[pos++] = 0x1a; // field 3, length-delimited
    pos = writeVarint(out, pos, subjectBytes);
    pos += out.write(subject, pos, "utf8");
  }
  if (publishedNumber !== 0) {
    out[pos++] = 0x20; // field 4, varint
    pos = writeVarint(out, pos, publishedNumber);
  }
  return out;
}

/** Bytes of a varint for a non-negative safe integer. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size += 1;
  }
  return size;
}

function writeVarint(out: Buffer, pos: number, value: number): number {
  // Division rather than bit shifts: values may exceed 32 bits.
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}

/**
 * A hand-written decoder for PublishRequest, the hot request. It yields what
 * protobuf-es's fromBinary yields (test/message-codec.test.ts compares them)
 * without reflection; the body is a view of the received bytes, as grpc-js
 * hands each call its own buffer. Anything unusual (unknown fields, wire
 * types it does not expect, truncation) goes through fromBinary, which also
 * raises protobuf-es's own errors for malformed input.
 */
export function decodePublishRequest(bytes: Buffer): PublishRequest {
  return decodePublishFast(bytes) ?? fromBinary(PublishRequestSchema, bytes);
}

/** Invalid UTF-8 throws here and the message goes to protobuf-es, which decides. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decodePublishFast(bytes: Buffer): PublishRequest | undefined {
  let subject = "";
  let body: Uint8Array = EMPTY;
  let expirationSeconds = 0;
  let idempotencyKey = "";
  let pos = 0;
  const end = bytes.length;
  while (pos < end) {
    const tag = bytes[pos++] as number;
    if (tag === 0x18) {
      // expiration_seconds, int32 as a varint (negatives take 10 bytes).
      let value = 0;
      let scale = 1;
      let byte: number;
      let count = 0;
      do {
        // Longer than 5 bytes: a negative int32 (10 bytes), left to protobuf-es.
        if (pos >= end || ++count > 5) return undefined;
        byte = bytes[pos++] as number;
        value += (byte & 0x7f) * scale;
        scale *= 128;
      } while (byte >= 0x80);
      expirationSeconds = value | 0; // int32: the low 32 bits, as protobuf-es reads them
      continue;
    }
    if (tag !== 0x0a && tag !== 0x12 && tag !== 0x22) return undefined;
    let length = 0;
    let scale = 1;
    let byte: number;
    let count = 0;
    do {
      if (pos >= end || ++count > 5) return undefined;
      byte = bytes[pos++] as number;
      length += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte >= 0x80);
    if (pos + length > end) return undefined;
    const field = bytes.subarray(pos, pos + length);
    pos += length;
    try {
      if (tag === 0x0a) subject = utf8.decode(field);
      else if (tag === 0x12) body = field;
      else idempotencyKey = utf8.decode(field);
    } catch {
      return undefined;
    }
  }
  return { $typeName: "broker.PublishRequest", subject, body, expirationSeconds, idempotencyKey };
}

const EMPTY = new Uint8Array(0);

/** PublishResponse { id = 1 } by hand (same bytes as toBinary); unusual ids go through toBinary. */
export function encodePublishResponse(message: PublishResponse): Buffer {
  const { id } = message;
  if (id < 0n || id > MAX_FAST || (message.$unknown && message.$unknown.length > 0)) {
    return Buffer.from(toBinary(PublishResponseSchema, message));
  }
  const value = Number(id);
  if (value === 0) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(1 + varintSize(value));
  out[0] = 0x08; // field 1, varint
  writeVarint(out, 1, value);
  return out;
}
