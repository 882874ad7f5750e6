import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

/**
 * Hand-made requests for what well-behaved clients never send: malformed
 * frames, stalled bodies, idle connections.
 */

/** A gRPC frame: flags byte, 4-byte length, payload; `announced` overrides the length (a short frame). */
export function grpcFrame(payload: Uint8Array, options: { compressed?: boolean; announced?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = options.compressed ? 1 : 0;
  head.writeUInt32BE(options.announced ?? payload.length, 1);
  return Buffer.concat([head, payload]);
}

export interface GrpcOutcome {
  /** grpc-status from trailers or a trailers-only response (undefined: the stream ended without one). */
  readonly status: number | undefined;
  readonly message: string;
  /** How long until the stream ended, in ms. */
  readonly elapsedMs: number;
}

/**
 * One gRPC call over h2c with a raw body: `end` false leaves the request open
 * (a stalled client). Resolves when the stream closes or `timeoutMs` passes.
 */
export function rawGrpcCall(
  port: number,
  method: string,
  body: Buffer,
  options: { end?: boolean; headers?: Record<string, string>; timeoutMs?: number; contentType?: string } = {},
): Promise<GrpcOutcome> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    let status: number | undefined;
    let message = "";
    const read = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) status = Number(headers["grpc-status"]);
      if (headers["grpc-message"] !== undefined) message = decodeURIComponent(String(headers["grpc-message"]));
    };
    const stream = session.request({
      ":method": "POST",
      ":path": `/broker.Broker/${method}`,
      "content-type": options.contentType ?? "application/grpc",
      te: "trailers",
      ...options.headers,
    });
    const timer = setTimeout(() => {
      stream.close();
      session.destroy();
      reject(new Error(`no end of the ${method} stream within ${options.timeoutMs ?? 5_000} ms`));
    }, options.timeoutMs ?? 5_000);
    stream.on("response", read);
    stream.on("trailers", read);
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () => {
      clearTimeout(timer);
      session.close();
      resolve({ status, message, elapsedMs: Date.now() - started });
    });
    if (options.end === false) stream.write(body);
    else stream.end(body);
  });
}

export interface HttpOutcome {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One HTTP/1.1 request; `declaredLength` larger than the body sent leaves it incomplete. */
export function rawHttpRequest(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; declaredLength?: number } = {},
): Promise<HttpOutcome> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? Buffer.alloc(0);
    const request = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: options.method ?? "POST",
        agent: false,
        headers: { ...options.headers, "content-length": String(options.declaredLength ?? body.length) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    if (options.declaredLength !== undefined && options.declaredLength > body.length) request.write(body);
    else request.end(body);
  });
}

/** A TCP connection that sends `bytes` (maybe nothing) and reports when the server closes it. */
export function idleConnection(
  port: number,
  bytes: Buffer = Buffer.alloc(0),
): { closed: Promise<number>; socket: net.Socket } {
  const started = Date.now();
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.on("data", () => {});
  if (bytes.length > 0) socket.write(bytes);
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  return { closed, socket };
}

/** The grpc-status of a gRPC-Web response: in its headers (trailers-only) or its trailer frame. */
export function grpcWebStatus(outcome: HttpOutcome): { status: number | undefined; message: string } {
  const fromHeaders = outcome.headers["grpc-status"];
  if (fromHeaders !== undefined) {
    return { status: Number(fromHeaders), message: decodeURIComponent(String(outcome.headers["grpc-message"] ?? "")) };
  }
  let pos = 0;
  const { body } = outcome;
  while (pos + 5 <= body.length) {
    const flags = body[pos] as number;
    const length = body.readUInt32BE(pos + 1);
    const payload = body.subarray(pos + 5, pos + 5 + length);
    if ((flags & 0x80) !== 0) {
      const fields = Object.fromEntries(
        payload
          .toString("utf8")
          .split("\r\n")
          .filter(Boolean)
          .map((line) => {
            const colon = line.indexOf(":");
            return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
          }),
      );
      return { status: Number(fields["grpc-status"]), message: decodeURIComponent(fields["grpc-message"] ?? "") };
    }
    pos += 5 + length;
  }
  return { status: undefined, message: "" };
}
