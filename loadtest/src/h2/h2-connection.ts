import net from "node:net";
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW,
  Flag,
  FRAME_HEADER_BYTES,
  FrameReader,
  FrameType,
  frame,
  MAX_WINDOW,
  Setting,
  settings,
  windowUpdate,
  writeFrameHeader,
} from "./frames.js";

/** What one request stream hears back. */
export interface StreamHandler {
  /** A HEADERS frame (response headers or trailers; they are not decoded). */
  onHeaders(endStream: boolean): void;
  /** Part of the response body: bytes start..end of buffer, valid only during the call. */
  onData(buffer: Buffer, start: number, end: number): void;
  /** The stream is over: the server ended it (error undefined), reset it, or the connection failed. */
  onEnd(error: Error | undefined): void;
}

interface OpenStream {
  readonly handler: StreamHandler;
  /** DATA bytes received since the stream's window was last topped up. */
  received: number;
}

interface QueuedRequest {
  readonly headerBlock: Buffer;
  readonly message: Buffer;
  readonly handler: StreamHandler;
}

/** Window updates are sent once this much has been received (windows start at 2^31 - 1). */
const REFILL_AFTER = 2 ** 30;
const RST_CANCEL = 0x8;

/**
 * A lean HTTP/2 client connection for the load client (h2c, prior knowledge):
 * each request is one HEADERS and one DATA frame written in a single buffer,
 * and the responses are handed on as raw frames, with none of node:http2's
 * per-stream objects. Those objects outlive their streams until an old-space
 * collection, so at a few thousand requests a second they made the load
 * client's own scavenges long and its latencies part of the measurement.
 *
 * Response header blocks are not decoded (so no HPACK state is kept): gRPC
 * outcomes are read from the framing, see RawPublisher. Flow control: the
 * receive windows are set to the maximum and refilled; requests wait while
 * the server's connection window is too small for their DATA frame.
 *
 * Kept after issue 20 asked whether it is needed: in the same run
 * (loadtest/report/nats, 2026-12-03 19:57 UTC, a loaded machine) the load
 * client spent 20.9 / 22.3 µs of CPU per acknowledged Publish through this
 * client against 621.0 / 267.8 µs through @grpc/grpc-js (100 B / 1 KiB
 * bodies, 128 in flight, same gateway): at 2,000 publishes/s plus 100,000
 * deliveries/s on one load-client core, grpc-js would make the client the
 * bottleneck of the delivery scenarios. Re-measure with the
 * "gateway (Redis), lean h2 client" row of `npm run bench -- --only nats`.
 */
export class H2Connection {
  private readonly socket: net.Socket;
  private readonly reader = new FrameReader((type, flags, streamId, buffer, start, end) =>
    this.onFrame(type, flags, streamId, buffer, start, end),
  );
  private readonly streams = new Map<number, OpenStream>();
  private readonly queue: QueuedRequest[] = [];
  private nextStreamId = 1;
  private sendWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  private connectionReceived = 0;
  private corked = false;
  private failure: Error | undefined;
  /** Streams above this id were refused by a GOAWAY; new ones are not started. */
  private goAwayAfter = Number.POSITIVE_INFINITY;

  constructor(address: string) {
    const colon = address.lastIndexOf(":");
    this.socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    this.socket.on("error", (err) => this.fail(err));
    this.socket.on("close", () => this.fail(new Error("connection closed")));
    this.write(CLIENT_PREFACE);
    this.write(
      settings([
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, MAX_WINDOW],
      ]),
    );
    this.write(windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW));
  }

  /** Starts a request: the header block, then one gRPC-framed message and END_STREAM. */
  request(headerBlock: Buffer, message: Buffer, handler: StreamHandler): void {
    if (this.failure) {
      handler.onEnd(this.failure);
      return;
    }
    if (this.nextStreamId > this.goAwayAfter || this.nextStreamId > MAX_WINDOW) {
      handler.onEnd(new Error("the connection takes no new streams (GOAWAY or ids exhausted)"));
      return;
    }
    const dataLength = 5 + message.length;
    if (
      headerBlock.length > this.peerMaxFrame ||
      dataLength > this.peerMaxFrame ||
      dataLength > this.peerInitialWindow
    ) {
      handler.onEnd(new Error("request larger than one frame or stream window: not supported by the lean client"));
      return;
    }
    if (this.queue.length > 0 || this.sendWindow < dataLength) {
      this.queue.push({ headerBlock, message, handler });
      return;
    }
    this.send(headerBlock, message, handler);
  }

  /** Resets the stream (CANCEL); its handler hears nothing more. */
  cancel(handler: StreamHandler): void {
    for (const [id, stream] of this.streams) {
      if (stream.handler !== handler) continue;
      this.streams.delete(id);
      const payload = Buffer.allocUnsafe(4);
      payload.writeUInt32BE(RST_CANCEL, 0);
      this.write(frame(FrameType.RST_STREAM, 0, id, payload));
      return;
    }
  }

  close(): void {
    this.fail(new Error("connection closed by the client"));
    this.socket.end();
  }

  private send(headerBlock: Buffer, message: Buffer, handler: StreamHandler): void {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const dataLength = 5 + message.length;
    const out = Buffer.allocUnsafe(2 * FRAME_HEADER_BYTES + headerBlock.length + dataLength);
    let pos = writeFrameHeader(out, 0, headerBlock.length, FrameType.HEADERS, Flag.END_HEADERS, id);
    pos += headerBlock.copy(out, pos);
    pos = writeFrameHeader(out, pos, dataLength, FrameType.DATA, Flag.END_STREAM, id);
    out[pos] = 0; // not compressed
    out.writeUInt32BE(message.length, pos + 1);
    message.copy(out, pos + 5);
    this.sendWindow -= dataLength;
    this.streams.set(id, { handler, received: 0 });
    this.write(out);
  }

  private flushQueue(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0] as QueuedRequest;
      if (this.sendWindow < 5 + next.message.length) return;
      this.queue.shift();
      this.send(next.headerBlock, next.message, next.handler);
    }
  }

  /** Writes of one turn go out together (one writev), without Nagle's delay. */
  private write(bytes: Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  private onFrame(type: number, flags: number, streamId: number, buffer: Buffer, start: number, end: number): void {
    switch (type) {
      case FrameType.DATA: {
        this.connectionReceived += end - start;
        if (this.connectionReceived >= REFILL_AFTER) {
          this.write(windowUpdate(0, this.connectionReceived));
          this.connectionReceived = 0;
        }
        const stream = this.streams.get(streamId);
        if (!stream) return;
        stream.received += end - start;
        let dataStart = start;
        let dataEnd = end;
        if (flags & Flag.PADDED) {
          dataStart += 1;
          dataEnd -= buffer[start] as number;
        }
        if (dataEnd > dataStart) stream.handler.onData(buffer, dataStart, dataEnd);
        if (flags & Flag.END_STREAM) this.finish(streamId, undefined);
        else if (stream.received >= REFILL_AFTER) {
          this.write(windowUpdate(streamId, stream.received));
          stream.received = 0;
        }
        return;
      }
      case FrameType.HEADERS: {
        const stream = this.streams.get(streamId);
        if (!stream) return;
        const endStream = (flags & Flag.END_STREAM) !== 0;
        stream.handler.onHeaders(endStream);
        if (endStream) this.finish(streamId, undefined);
        return;
      }
      case FrameType.RST_STREAM:
        this.finish(streamId, new Error(`stream reset by the server (HTTP/2 error ${buffer.readUInt32BE(start)})`));
        return;
      case FrameType.SETTINGS:
        if (flags & Flag.ACK) return;
        for (let pos = start; pos + 6 <= end; pos += 6) {
          const id = buffer.readUInt16BE(pos);
          const value = buffer.readUInt32BE(pos + 2);
          if (id === Setting.INITIAL_WINDOW_SIZE) this.peerInitialWindow = value;
          else if (id === Setting.MAX_FRAME_SIZE) this.peerMaxFrame = value;
        }
        this.write(frame(FrameType.SETTINGS, Flag.ACK, 0, Buffer.alloc(0)));
        return;
      case FrameType.PING:
        if (!(flags & Flag.ACK)) this.write(frame(FrameType.PING, Flag.ACK, 0, buffer.subarray(start, end)));
        return;
      case FrameType.WINDOW_UPDATE:
        if (streamId === 0) {
          this.sendWindow += buffer.readUInt32BE(start) & 0x7fffffff;
          this.flushQueue();
        }
        return;
      case FrameType.GOAWAY: {
        const lastStreamId = buffer.readUInt32BE(start) & 0x7fffffff;
        const code = buffer.readUInt32BE(start + 4);
        this.goAwayAfter = lastStreamId;
        const error = new Error(`connection going away (GOAWAY, HTTP/2 error ${code})`);
        for (const id of [...this.streams.keys()]) if (id > lastStreamId || code !== 0) this.finish(id, error);
        return;
      }
      default:
        // CONTINUATION (of header blocks not decoded anyway), PRIORITY, unknown types: nothing to do.
        return;
    }
  }

  private finish(streamId: number, error: Error | undefined): void {
    const stream = this.streams.get(streamId);
    if (!stream) return;
    this.streams.delete(streamId);
    stream.handler.onEnd(error);
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    const streams = [...this.streams.values()];
    this.streams.clear();
    const queued = this.queue.splice(0);
    for (const stream of streams) stream.handler.onEnd(error);
    for (const request of queued) request.handler.onEnd(error);
  }
}
