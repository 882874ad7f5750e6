import http2 from "node:http2";

/**
 * A lean gRPC Publish client on node:http2 for the delivery scenarios: it
 * frames PublishRequest by hand and reads the id from the reply, with none of
 * grpc-js's or protobuf-es's per-call objects. Its garbage (and so its GC
 * pauses) stays small, so delivery latencies show the gateway more than the
 * load client. Unary throughput scenarios keep the grpc-js client (the same
 * client for the gateway and the no-op baseline).
 */
export class RawPublisher {
  private readonly session: http2.ClientHttp2Session;

  constructor(address: string) {
    this.session = http2.connect(`http://${address}`);
    this.session.on("error", () => {}); // surfaced per call
  }

  /** Resolves with the id; rejects on a non-OK status. */
  publish(subject: string, body: Uint8Array, expirationSeconds: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ":method": "POST",
        ":path": "/broker.Broker/Publish",
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.end(grpcFrame(publishRequest(subject, body, expirationSeconds)));
      let reply: Buffer | undefined;
      stream.on("data", (chunk: Buffer) => {
        reply = reply ? Buffer.concat([reply, chunk]) : chunk;
      });
      let status: string | undefined;
      let message = "";
      stream.on("response", (headers) => {
        // Trailers-only replies carry the status in the headers.
        if (headers["grpc-status"] !== undefined) status = String(headers["grpc-status"]);
        message = String(headers["grpc-message"] ?? "");
      });
      stream.on("trailers", (trailers) => {
        status = String(trailers["grpc-status"] ?? status);
        message = String(trailers["grpc-message"] ?? message);
      });
      stream.on("error", reject);
      stream.on("close", () => {
        if (status !== "0" || !reply || reply.length < 5) {
          reject(new Error(`publish failed: grpc-status ${status} ${decodeURIComponent(message)}`));
          return;
        }
        resolve(idField(reply.subarray(5)));
      });
    });
  }

  close(): void {
    this.session.close();
  }
}

/** PublishRequest { subject = 1, body = 2, expiration_seconds = 3 } by hand. */
export function publishRequest(subject: string, body: Uint8Array, expirationSeconds: number): Buffer {
  const subjectBytes = Buffer.from(subject, "utf8");
  const parts: number[] = [];
  const varint = (value: number) => {
    while (value >= 0x80) {
      parts.push((value % 128) | 0x80);
      value = Math.floor(value / 128);
    }
    parts.push(value);
  };
  parts.push(0x0a);
  varint(subjectBytes.length);
  const head = Buffer.from(parts);
  parts.length = 0;
  // proto3 leaves default values out: an empty body is no field at all.
  if (body.byteLength > 0) {
    parts.push(0x12);
    varint(body.byteLength);
  }
  const bodyHead = Buffer.from(parts);
  parts.length = 0;
  if (expirationSeconds > 0) {
    parts.push(0x18);
    varint(expirationSeconds);
  }
  return Buffer.concat([head, subjectBytes, bodyHead, body, Buffer.from(parts)]);
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

function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}
