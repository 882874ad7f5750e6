import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageResponseSchema, SubscribeRequestSchema } from "../../gateway/gen/broker/broker_pb.js";

export interface RawMessage {
  readonly id: number;
  readonly body: Uint8Array;
}

/** How a stream ended: a gRPC status (0 OK) or a Connect error code (undefined when it ended cleanly). */
export interface StreamEnd {
  readonly code: string | undefined;
  readonly message: string;
}

/**
 * A Subscribe stream on a raw node:http2 session that reads nothing until
 * `read()` is called. Its HTTP/2 stream is paused, so flow control stops the
 * gateway from sending more than a window's worth, exactly as with a client
 * that stopped reading. (A paused grpc-js call is no such client: grpc-js
 * keeps reading from the socket into its own memory.) Speaks native gRPC
 * (proto) or the Connect protocol (JSON) and parses the envelopes itself.
 */
export class PausedSubscription {
  readonly messages: RawMessage[] = [];
  /** Resolves when the response headers arrive (the subscription is live). */
  readonly live: Promise<void>;
  /** Resolves once the stream has ended, with how it ended. */
  readonly ended: Promise<StreamEnd>;
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private pending = Buffer.alloc(0);
  private connectEnd: StreamEnd | undefined;
  private grpcEnd: StreamEnd | undefined;

  constructor(
    port: number,
    subject: string,
    private readonly protocol: "grpc" | "connect",
  ) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on("error", () => {});
    const grpc = protocol === "grpc";
    this.stream = this.session.request({
      ":method": "POST",
      ":path": "/broker.Broker/Subscribe",
      ...(grpc
        ? { "content-type": "application/grpc", te: "trailers" }
        : { "content-type": "application/connect+json", "connect-protocol-version": "1" }),
    });
    const request = grpc
      ? Buffer.from(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { subject })))
      : Buffer.from(JSON.stringify({ subject }));
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(request.length, 1);
    this.stream.end(Buffer.concat([prefix, request]));
    this.stream.pause();
    this.stream.on("response", (headers) => {
      // A trailers-only gRPC response carries its status in the headers.
      if (headers["grpc-status"] !== undefined) this.grpcEnd = grpcStatus(headers);
    });
    this.stream.on("trailers", (trailers) => {
      this.grpcEnd = grpcStatus(trailers);
    });
    this.live = new Promise((resolve, reject) => {
      this.stream.once("response", () => resolve());
      this.stream.once("error", reject);
    });
    this.ended = new Promise((resolve, reject) => {
      this.stream.once("end", () =>
        resolve((grpc ? this.grpcEnd : this.connectEnd) ?? { code: undefined, message: "no status" }),
      );
      this.stream.once("error", reject);
    });
    this.ended.catch(() => {});
  }

  /** Starts reading (the client finally catches up). */
  read(): void {
    this.stream.on("data", (chunk: Buffer) => this.parse(chunk));
    this.stream.resume();
  }

  async waitFor(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (Date.now() > deadline) throw new Error(`paused ${this.protocol} stream: ${this.messages.length} of ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.stream.close();
    this.session.close();
  }

  private parse(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const flags = this.pending.readUInt8(0);
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) return;
      const payload = this.pending.subarray(5, 5 + length);
      this.pending = this.pending.subarray(5 + length);
      if (this.protocol === "grpc") {
        const message = fromBinary(MessageResponseSchema, payload);
        this.messages.push({ id: Number(message.id), body: message.body });
        continue;
      }
      const json = JSON.parse(payload.toString("utf8")) as {
        id?: string;
        body?: string;
        error?: { code?: string; message?: string };
      };
      if (flags & 0x02) this.connectEnd = { code: json.error?.code, message: json.error?.message ?? "" };
      else this.messages.push({ id: Number(json.id), body: Buffer.from(json.body ?? "", "base64") });
    }
  }
}

function grpcStatus(headers: http2.IncomingHttpHeaders): StreamEnd {
  return {
    code: String(headers["grpc-status"]),
    message: decodeURIComponent(String(headers["grpc-message"] ?? "")),
  };
}
