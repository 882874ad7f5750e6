import { H2Connection, type StreamHandler } from "./h2/h2-connection.js";
import { grpcRequestHeaders } from "./h2/request-headers.js";

/**
 * A lean gRPC Publish client for the delivery scenarios, on the lean HTTP/2
 * connection (h2/h2-connection.ts): it frames PublishRequest by hand and
 * reads the id from the reply, with no per-call objects beyond a promise and
 * one small handler. The load client's garbage (and so its GC pauses) then
 * stays small, and delivery latencies show the gateway rather than the load
 * client. Unary throughput scenarios keep the grpc-js client (the same client
 * for the gateway and the no-op baseline).
 */
export class RawPublisher {
  private readonly connection: H2Connection;
  private readonly headers: Buffer;

  constructor(address: string) {
    this.connection = new H2Connection(address);
    this.headers = grpcRequestHeaders(address, "/broker.Broker/Publish");
  }

  /** Resolves with the id; rejects when the reply carries no message (a non-OK status) or the stream fails. */
  publish(subject: string, body: Uint8Array, expirationSeconds: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.connection.request(
        this.headers,
        publishRequest(subject, body, expirationSeconds),
        new PublishReply(resolve, reject),
      );
    });
  }

  close(): void {
    this.connection.close();
  }
}

/**
 * Reads a unary reply from its framing: grpc-js answers a handler's success
 * with headers, one message and an OK status, and a failure with a status
 * alone (a trailers-only reply), so a complete message means OK. The header
 * blocks are not decoded, so a failure's status code is not known here.
 */
class PublishReply implements StreamHandler {
  private reply: Buffer | undefined;

  constructor(
    private readonly resolve: (id: number) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  onHeaders(): void {}

  onData(buffer: Buffer, start: number, end: number): void {
    // Copied: the frame's buffer is only valid during the call. Replies are a few bytes.
    const part = Buffer.from(buffer.subarray(start, end));
    this.reply = this.reply ? Buffer.concat([this.reply, part]) : part;
  }

  onEnd(error: Error | undefined): void {
    if (error) {
      this.reject(error);
      return;
    }
    const reply = this.reply;
    if (!reply || reply.length < 5 || reply.length < 5 + reply.readUInt32BE(1)) {
      this.reject(new Error("publish failed: the reply carried a status and no message (a non-OK grpc-status)"));
      return;
    }
    this.resolve(idField(reply.subarray(5, 5 + reply.readUInt32BE(1))));
  }
}

/** PublishRequest { subject = 1, body = 2, expiration_seconds = 3 } by hand, in one buffer. */
export function publishRequest(subject: string, body: Uint8Array, expirationSeconds: number): Buffer {
  const subjectLength = Buffer.byteLength(subject, "utf8");
  // proto3 leaves default values out: an empty body or a zero expiration is no field at all.
  const size =
    1 +
    varintSize(subjectLength) +
    subjectLength +
    (body.byteLength > 0 ? 1 + varintSize(body.byteLength) + body.byteLength : 0) +
    (expirationSeconds > 0 ? 1 + varintSize(expirationSeconds) : 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x0a;
  let pos = writeVarint(out, 1, subjectLength);
  pos += out.write(subject, pos, "utf8");
  if (body.byteLength > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, body.byteLength);
    out.set(body, pos);
    pos += body.byteLength;
  }
  if (expirationSeconds > 0) {
    out[pos++] = 0x18;
    writeVarint(out, pos, expirationSeconds);
  }
  return out;
}

function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 128)) size += 1;
  return size;
}

function writeVarint(out: Buffer, start: number, value: number): number {
  let pos = start;
  let rest = value;
  while (rest >= 0x80) {
    out[pos++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[pos++] = rest;
  return pos;
}

/** PublishResponse { id = 1 }: tag 0x08 then a varint; an absent field is 0. */
export function idField(bytes: Buffer): number {
  if (bytes[0] !== 0x08) return 0;
  let result = 0;
  let scale = 1;
  for (let pos = 1; pos < bytes.length; pos++) {
    const byte = bytes[pos] as number;
    result += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 128;
  }
  return result;
}
