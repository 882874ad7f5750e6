import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Broker } from "../../gateway/gen/broker/broker_pb.js";

export type BrokerClient = Client<typeof Broker>;
export type Protocol = "connect" | "grpc-web";

export const PROTOCOL_NAMES: Record<Protocol, string> = { connect: "Connect", "grpc-web": "gRPC-Web" };

/** A client for the gateway that served this page, over the chosen browser protocol. */
export function brokerClient(protocol: Protocol, baseUrl: string = window.location.origin): BrokerClient {
  const transport =
    protocol === "connect"
      ? // JSON keeps Connect requests readable in the browser's network panel.
        createConnectTransport({ baseUrl })
      : createGrpcWebTransport({ baseUrl });
  return createClient(Broker, transport);
}
