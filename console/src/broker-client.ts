import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Broker } from "../../gateway/gen/broker/broker_pb.js";

export type BrokerClient = Client<typeof Broker>;
export type Protocol = "connect" | "grpc-web";

export const PROTOCOL_NAMES: Record<Protocol, string> = { connect: "Connect", "grpc-web": "gRPC-Web" };

/**
 * A client for the gateway that served this page, over the chosen browser
 * protocol. `token()` is read at each call, so a newly pasted token applies
 * at once; an empty one sends no header (an open gateway needs none).
 */
export function brokerClient(
  protocol: Protocol,
  token: () => string,
  baseUrl: string = window.location.origin,
): BrokerClient {
  const bearer: Interceptor = (next) => (request) => {
    const value = token();
    if (value) request.header.set("authorization", `Bearer ${value}`);
    return next(request);
  };
  const options = { baseUrl, interceptors: [bearer] };
  const transport =
    protocol === "connect"
      ? // JSON keeps Connect requests readable in the browser's network panel.
        createConnectTransport(options)
      : createGrpcWebTransport(options);
  return createClient(Broker, transport);
}
