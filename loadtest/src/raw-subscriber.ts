import { bodyAndId } from "./grpc-client.js";
import { H2Connection, type StreamHandler } from "./h2/h2-connection.js";
import { grpcRequestHeaders } from "./h2/request-headers.js";
import { varintSize, writeVarint } from "./raw-publisher.js";

/**
 * A lean gRPC Subscribe client for the load client side of the delivery
 * scenarios, on the lean HTTP/2 connection (h2/h2-connection.ts): it frames
 * the request itself and splits the response into length-prefixed messages,
 * handing on each message's body and id. One core of load client can then
 * take the 100,000 deliveries a second of 1,000 subscribers at 100 messages/s.
 */
export class RawSubscriberPool {
  private readonly connections: H2Connection[] = [];
  private readonly headers: Buffer;
  private next = 0;

  constructor(address: string, connections: number) {
    for (let i = 0; i < connections; i++) this.connections.push(new H2Connection(address));
    this.headers = grpcRequestHeaders(address, "/broker.Broker/Subscribe");
  }

  /**
   * Resolves once the response headers arrive (the gateway sends them when
   * the subscription is live). A stream the server ends while the bench still
   * follows it is reported to `onEnd` as an error: the bench never expects one.
   * With `resumeAfterId` the gateway first replays the stored messages after it.
   */
  subscribe(
    subject: string,
    onMessage: (body: Buffer, id: number) => void,
    onEnd: (err: Error | undefined) => void,
    resumeAfterId?: number,
  ): Promise<{ cancel: () => void }> {
    const connection = this.connections[this.next++ % this.connections.length] as H2Connection;
    return new Promise((resolve, reject) => {
      const stream = new SubscribeStream(onMessage, onEnd, () => resolve({ cancel }), reject);
      const cancel = () => {
        stream.cancelled = true;
        connection.cancel(stream);
      };
      connection.request(this.headers, subscribeRequest(subject, resumeAfterId), stream);
    });
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }
}

class SubscribeStream implements StreamHandler {
  cancelled = false;
  private live = false;
  private pending: Buffer | undefined;

  constructor(
    private readonly onMessage: (body: Buffer, id: number) => void,
    private readonly onEndOfStream: (err: Error | undefined) => void,
    private readonly onLive: () => void,
    private readonly onRefused: (err: Error) => void,
  ) {}

  onHeaders(endStream: boolean): void {
    if (this.live || endStream) return;
    this.live = true;
    this.onLive();
  }

  onData(buffer: Buffer, start: number, end: number): void {
    let bytes = buffer;
    let pos = start;
    let limit = end;
    if (this.pending) {
      bytes = Buffer.concat([this.pending, buffer.subarray(start, end)]);
      pos = 0;
      limit = bytes.length;
      this.pending = undefined;
    }
    while (limit - pos >= 5) {
      const length = bytes.readUInt32BE(pos + 1);
      if (limit - pos - 5 < length) break;
      const { body, id } = bodyAndId(bytes.subarray(pos + 5, pos + 5 + length));
      this.onMessage(body, id);
      pos += 5 + length;
    }
    // A message split across frames: keep its start (copied, the frame's buffer is not ours).
    if (pos < limit) this.pending = Buffer.from(bytes.subarray(pos, limit));
  }

  onEnd(error: Error | undefined): void {
    if (!this.live) {
      this.onRefused(error ?? new Error("subscribe refused: the reply carried a status only (a non-OK grpc-status)"));
      return;
    }
    if (this.cancelled) return;
    this.onEndOfStream(error ?? new Error("the server ended the subscription (its status is not decoded)"));
  }
}

/** SubscribeRequest { subject = 1, optional resume_after_id = 2 } by hand. */
export function subscribeRequest(subject: string, resumeAfterId: number | undefined): Buffer {
  const bytes = Buffer.from(subject, "utf8");
  if (bytes.length > 127) throw new Error("subjects over 127 bytes are not used by the bench");
  const request = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
  if (resumeAfterId === undefined) return request;
  // An explicit field even for 0 (proto3 `optional`: present means "resume").
  const resume = Buffer.alloc(1 + varintSize(resumeAfterId));
  resume[0] = 0x10;
  writeVarint(resume, 1, resumeAfterId);
  return Buffer.concat([request, resume]);
}
