import http2, { Http2ServerRequest } from "node:http2";
import type net from "node:net";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Broker as BrokerService } from "../../gen/broker/broker_pb.js";
import { DualProtocolServer, type HttpHandler } from "./connect/http-server.js";

/** How long a refused connection may stay to read its answer. */
const REFUSED_LINGER_MS = 2_000;

/**
 * Answers the connections a full process refuses (MAX_CONNECTIONS): every
 * call on them gets RESOURCE_EXHAUSTED in its own protocol (gRPC, gRPC-Web,
 * Connect; connect-node writes each), so clients see why instead of a reset,
 * and the connection closes after the first answer (GOAWAY on HTTP/2,
 * `connection: close` on HTTP/1.1) or after REFUSED_LINGER_MS at the latest.
 */
export class ConnectionRefusal {
  private readonly http: DualProtocolServer;
  private readonly h2c: http2.Http2Server;

  constructor(message: () => string) {
    const handler = refusingHandler(message);
    this.http = new DualProtocolServer(handler);
    this.h2c = http2.createServer({}, handler);
  }

  /** A connection to the HTTP port (HTTP/1.1 or h2c). */
  refuseHttp(socket: net.Socket): void {
    linger(socket);
    this.http.accept(socket);
  }

  /** A connection to the gRPC port (h2c). */
  refuseGrpc(socket: net.Socket): void {
    linger(socket);
    this.h2c.emit("connection", socket);
  }

  close(): void {
    void this.http.close(0);
    this.h2c.close();
  }
}

function linger(socket: net.Socket): void {
  const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

function refusingHandler(message: () => string): HttpHandler {
  const refuse = (): never => {
    throw new ConnectError(message(), Code.ResourceExhausted);
  };
  const adapter = connectNodeAdapter({
    routes: (router: ConnectRouter) =>
      router.service(BrokerService, {
        publish: refuse,
        publishBatch: refuse,
        fetch: refuse,
        // biome-ignore lint/correctness/useYield: refuses before its first message
        async *subscribe() {
          refuse();
        },
      }),
    acceptCompression: [],
    // Health checks, reflection, the console: the same answer without a protocol body.
    fallback: (request, response) => {
      const grpc = (request.headers["content-type"] ?? "").startsWith("application/grpc");
      if (grpc) {
        response.writeHead(200, {
          "content-type": "application/grpc",
          "grpc-status": String(Code.ResourceExhausted),
          "grpc-message": encodeURIComponent(message()),
        });
      } else {
        response.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
      }
      if (grpc) response.end();
      else response.end(`${message()}\n`);
    },
  });
  return (request, response) => {
    if (request instanceof Http2ServerRequest) {
      response.once("finish", () => request.stream.session?.close());
    } else {
      response.setHeader("connection", "close");
    }
    adapter(request, response);
  };
}
