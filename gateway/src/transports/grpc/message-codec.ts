import { toBinary } from "@bufbuild/protobuf";
import { type MessageResponse, MessageResponseSchema } from "../../../gen/broker/broker_pb.js";
import { RecentCache } from "../recent-cache.js";

/**
 * A hand-written protobuf encoder for MessageResponse, the message on the hot
 * paths of Fetch and Subscribe. It writes exactly the bytes protobuf-es's
 * reflection-based toBinary writes (fields in number order, proto3 defaults
 * omitted; test/message-codec.test.ts compares them) without its per-field
 * reflection and intermediate buffers. Anything unusual (a gap, unknown
 * fields, negative or huge numbers) goes through toBinary.
 *
 * Encodings of recent messages are kept per message object, so a message
 * fanned out to many subscribers is encoded once.
 */
const encoded = new RecentCache<MessageResponse, Buffer>(4096);

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
