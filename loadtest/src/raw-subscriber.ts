import http2 from "node:http2";
import { bodyAndId } from "./grpc-client.js";

/**
 * A lean gRPC Subscribe client on node:http2 for the load client side of
 * fan-out: it frames the request itself and splits the response into
 * length-prefixed messages, handing on each message's body and id, without
 * grpc-js's per-message machinery. One core of load client can then take the
 * 100,000 deliveries a second of 1,000 subscribers at 100 messages/s.
 */
export class RawSubscriberPool {
  private readonly sessions: http2.ClientHttp2Session[] = [];
  private next = 0;

  constructor(address: string, sessions: number) {
    for (let i = 0; i < sessions; i++) {
      // Large flow-control windows: a client pause of a few ms must not stall the
      // server's writes to 100 streams on this connection (Node's default is 64 KiB).
      const session = http2.connect(`http://${address}`, { settings: { initialWindowSize: 4 * 1024 * 1024 } });
      session.on("connect", () => session.setLocalWindowSize(32 * 1024 * 1024));
      session.on("error", () => {}); // surfaced per stream
      this.sessions.push(session);
    }
  }

  /** Resolves once the response headers arrive (the gateway sends them when the subscription is live). */
  subscribe(
    subject: string,
    onMessage: (body: Buffer, id: number) => void,
    onEnd: (err: Error | undefined) => void,
  ): Promise<{ cancel: () => void }> {
    const session = this.sessions[this.next++ % this.sessions.length] as http2.ClientHttp2Session;
    const stream = session.request({
      ":method": "POST",
      ":path": "/broker.Broker/Subscribe",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(grpcFrame(subscribeRequest(subject)));
    let pending: Buffer = Buffer.alloc(0);
    stream.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let pos = 0;
      while (pending.length - pos >= 5) {
        const length = pending.readUInt32BE(pos + 1);
        if (pending.length - pos - 5 < length) break;
        const { body, id } = bodyAndId(pending.subarray(pos + 5, pos + 5 + length));
        onMessage(body, id);
        pos += 5 + length;
      }
      pending = pos === pending.length ? Buffer.alloc(0) : pending.subarray(pos);
    });
    let cancelled = false;
    let ended = false;
    const end = (err: Error | undefined) => {
      if (ended) return;
      ended = true;
      onEnd(cancelled ? undefined : err);
    };
    stream.on("trailers", (trailers) => {
      const status = Number(trailers["grpc-status"] ?? 0);
      end(status === 0 ? undefined : new Error(`grpc-status ${status}: ${String(trailers["grpc-message"] ?? "")}`));
    });
    stream.on("close", () => end(undefined));
    stream.on("error", (err) => end(err));
    return new Promise((resolve, reject) => {
      stream.once("response", (headers) => {
        const status = headers["grpc-status"];
        // A trailers-only response (status in the headers) is an immediate failure.
        if (status !== undefined && Number(status) !== 0) {
          reject(new Error(`subscribe failed: grpc-status ${String(status)} ${String(headers["grpc-message"] ?? "")}`));
          return;
        }
        resolve({
          cancel: () => {
            cancelled = true;
            stream.close(http2.constants.NGHTTP2_CANCEL);
          },
        });
      });
      stream.once("error", reject);
    });
  }

  close(): void {
    for (const session of this.sessions) session.close();
  }
}

/** SubscribeRequest { subject = 1 } by hand: one length-delimited string field. */
function subscribeRequest(subject: string): Buffer {
  const bytes = Buffer.from(subject, "utf8");
  if (bytes.length > 127) throw new Error("subjects over 127 bytes are not used by the bench");
  return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}
