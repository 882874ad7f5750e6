import { H2Connection } from "./h2/h2-connection.js";
import { grpcRequestHeaders } from "./h2/request-headers.js";
import { UnaryReply } from "./h2/unary-reply.js";

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
        new UnaryReply("publish", (message) => resolve(idField(message)), reject),
      );
    });
  }

  close(): void {
    this.connection.close();
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

export function varintSize(value: number): number {
  let size = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 128)) size += 1;
  return size;
}

export function writeVarint(out: Buffer, start: number, value: number): number {
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
