import http, { type IncomingMessage, type ServerResponse } from "node:http";
import http2, { type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import net from "node:net";
import { useYoungStreamTables } from "../../patches/node-http2-stream-tables.js";
import type { ConnectionAdmission } from "../connection-admission.js";
import type { ConnectionRefusal } from "../connection-refusal.js";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;
export type HttpHandler = (request: NodeRequest, response: NodeResponse) => void;

const KEEPALIVE_MS = 30_000;

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Counting and refusing connections (MAX_CONNECTIONS, HANDSHAKE_TIMEOUT_MS); absent: every one is served. */
export interface ConnectionLimits {
  readonly admission: ConnectionAdmission;
  readonly refusal: ConnectionRefusal;
  /** A request head must be complete this long after it began (HTTP/1.1); 0: Node's default. */
  readonly headersTimeoutMs: number;
}

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

  /** The session being created for the socket handed to http2 (its 'session' event is synchronous). */
  private connecting: net.Socket | undefined;

  constructor(
    handler: HttpHandler,
    private readonly limits?: ConnectionLimits,
  ) {
    const admission = limits?.admission;
    this.http1 = http.createServer(
      admission
        ? (request, response) => {
            admission.requestSeen(request.socket.remoteAddress, request.socket.remotePort);
            handler(request, response);
          }
        : handler,
    );
    // Streams are long-lived: no idle cut-offs of our own.
    this.http1.requestTimeout = 0;
    if (limits && limits.headersTimeoutMs > 0) this.http1.headersTimeout = limits.headersTimeoutMs;
    this.http1.keepAliveTimeout = 65_000;
    // http tracks connections (which closeIdleConnections needs) from its 'listening' event,
    // which a server fed sockets by hand never sees; without it idle keep-alive clients hold a
    // drain open until they time out themselves.
    this.http1.emit("listening");
    this.http2 = http2.createServer({}, handler);
    this.http2.on("session", (session) => {
      useYoungStreamTables(session);
      const socket = this.connecting;
      if (admission && socket) {
        session.once("stream", () => admission.requestSeen(socket.remoteAddress, socket.remotePort));
      }
      this.sessions.add(session);
      // HTTP/2 PINGs keep idle Subscribe streams' connections alive through
      // proxies and NATs without sending anything a client sees as a message.
      const keepalive = setInterval(() => {
        // A ping that fails means the session is closing; its own close handling cleans up.
        if (!session.closed && !session.destroyed) session.ping(() => {});
      }, KEEPALIVE_MS);
      keepalive.unref();
      session.once("close", () => {
        clearInterval(keepalive);
        this.sessions.delete(session);
      });
    });
    this.listener = net.createServer((socket) => this.admit(socket));
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
    // Keep-alive connections become idle as their requests end.
    this.http1.closeIdleConnections();
    const reaper = setInterval(() => this.http1.closeIdleConnections(), 50);
    const timer = setTimeout(() => {
      for (const socket of this.sockets) socket.destroy();
    }, timeoutMs);
    await closed;
    clearTimeout(timer);
    clearInterval(reaper);
    // Stops http's connection-checking timer (it reports "not running": it never listened itself).
    this.http1.close(() => {});
  }

  private admit(socket: net.Socket): void {
    if (this.limits && !this.limits.admission.admit(socket, "http")) {
      socket.on("error", () => socket.destroy());
      this.limits.refusal.refuseHttp(socket);
      return;
    }
    this.accept(socket);
  }

  /** Serves a connection accepted elsewhere: its first bytes pick HTTP/1.1 or h2c. */
  accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    // HTTP/1.1 has no ping: TCP keepalive at least detects dead peers.
    socket.setKeepAlive(true, KEEPALIVE_MS);
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
        this.connecting = socket;
        try {
          this.http2.emit("connection", socket);
        } finally {
          this.connecting = undefined;
        }
      } else {
        this.http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  }
}
