import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Broker } from "../../gateway/gen/broker/broker_pb.js";

export type BrokerClient = Client<typeof Broker>;

/**
 * How a test client reaches the gateway: native gRPC on the gRPC port (served
 * by @grpc/grpc-js), or Connect / gRPC-Web on the HTTP port over HTTP/1.1 or h2c.
 */
export type Route = "grpc" | "connect" | "connect-h2c" | "grpc-web" | "grpc-web-h2c" | "grpc-on-http-port";

export const ALL_ROUTES: readonly Route[] = [
  "grpc",
  "connect",
  "connect-h2c",
  "grpc-web",
  "grpc-web-h2c",
  "grpc-on-http-port",
];

export interface Ports {
  readonly grpcPort: number;
  readonly httpPort: number;
}

export function transportFor(ports: Ports, route: Route, interceptors: Interceptor[] = []): Transport {
  const grpcUrl = `http://127.0.0.1:${ports.grpcPort}`;
  const httpUrl = `http://127.0.0.1:${ports.httpPort}`;
  // A short idle timeout so no HTTP/2 session keeps the test process alive.
  const h2 = { httpVersion: "2" as const, idleConnectionTimeoutMs: 300, interceptors };
  switch (route) {
    case "grpc":
      return createGrpcTransport({ baseUrl: grpcUrl, ...h2 });
    case "connect":
      return createConnectTransport({ baseUrl: httpUrl, httpVersion: "1.1", interceptors });
    case "connect-h2c":
      return createConnectTransport({ baseUrl: httpUrl, ...h2 });
    case "grpc-web":
      return createGrpcWebTransport({ baseUrl: httpUrl, httpVersion: "1.1", interceptors });
    case "grpc-web-h2c":
      return createGrpcWebTransport({ baseUrl: httpUrl, ...h2 });
    case "grpc-on-http-port":
      return createGrpcTransport({ baseUrl: httpUrl, ...h2 });
  }
}

/** A client of the route; with `token`, every call carries `authorization: Bearer <token>`. */
export function brokerClient(ports: Ports, route: Route = "grpc", options: { token?: string } = {}): BrokerClient {
  const { token } = options;
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createClient(Broker, transportFor(ports, route, token === undefined ? [] : [bearer]));
}
