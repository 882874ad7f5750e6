import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import net from "node:net";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;
export type HttpHandler = (request: NodeRequest, response: NodeResponse) => void;

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * One plaintext port for HTTP/1.1 (browsers, curl) and h2c with prior
 * knowledge (gRPC and Connect clients over HTTP/2): `http2.createServer`
 * alone speaks only h2c, so each connection's first bytes pick the server.
 */
export class DualProtocolServer {
  private readonly http1: http.Server;
  private readonly http2: http2.Http2Server;
  private readonly listener: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.Http2Session>();
  /** HTTP/1.1 connections and how many requests each has in flight. */
  private readonly http1Sockets = new Map<net.Socket, number>();
  private closing = false;

  constructor(handler: HttpHandler) {
    this.http1 = http.createServer(handler);
    // Streams are long-lived: no idle cut-offs of our own.
    this.http1.requestTimeout = 0;
    this.http1.keepAliveTimeout = 65_000;
    this.http1.on("request", (request: IncomingMessage, response: ServerResponse) => this.track(request, response));
    this.http2 = http2.createServer({}, handler);
    this.http2.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
    this.listener = net.createServer((socket) => this.route(socket));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.listener.once("error", reject);
      this.listener.listen(port, host, () => {
        this.listener.off("error", reject);
        resolve((this.listener.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops accepting, lets requests finish for up to `timeoutMs`, then cuts sockets. */
  async close(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    // GOAWAY lets open streams finish; idle HTTP/1.1 keep-alives just close.
    for (const session of this.sessions) session.close();
    // Idle keep-alive connections close now, busy ones when their requests end.
    // (http.Server's own closeIdleConnections does nothing here: that server
    // never listens, so it does not track the connections handed to it.)
    this.closing = true;
    for (const [socket, inFlight] of this.http1Sockets) if (inFlight === 0) socket.destroy();
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  private track(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket;
    this.http1Sockets.set(socket, (this.http1Sockets.get(socket) ?? 0) + 1);
    response.once("close", () => {
      const inFlight = this.http1Sockets.get(socket);
      if (inFlight === undefined) return; // the connection is gone
      this.http1Sockets.set(socket, inFlight - 1);
      // end(), not destroy(): the response's last bytes may still be queued.
      if (this.closing && inFlight === 1) socket.end();
    });
  }

  private route(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, HTTP2_PREFACE.length);
      const isHttp2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      // Wait until the preface either matches in full or diverges.
      if (isHttp2 && n < HTTP2_PREFACE.length) return;
      socket.off("data", onData);
      socket.pause();
      // Both servers read what was unshifted: http's parser from the stream,
      // http2 from the socket's buffered data when the session starts.
      socket.unshift(head);
      if (isHttp2) {
        this.http2.emit("connection", socket);
      } else {
        this.http1Sockets.set(socket, 0);
        socket.once("close", () => this.http1Sockets.delete(socket));
        this.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}
