import type { Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Authenticator, OPEN } from "../../auth/authenticator.js";
import type { Broker } from "../../core/broker.js";
import { type Log, SILENT_LOG } from "../../core/log.js";
import { brokerRoutes } from "./broker-routes.js";
import { handleCors } from "./cors.js";
import { earlyHeadersContext } from "./early-headers.js";
import type { HttpHandler, NodeResponse } from "./http-server.js";

export interface ConnectHandlerOptions {
  /** Room for the largest body plus the rest of the request. */
  readonly maxReceiveMessageBytes: number;
  /** Who may call (default: open). */
  readonly authenticator?: Authenticator;
  /** Serves requests the broker's routes do not match (console, health). */
  readonly fallback?: HttpHandler;
  /** Observe every call (metrics, spans). */
  readonly interceptors?: Interceptor[];
  /** Where calls that failed with a bug are logged. */
  readonly log?: Log;
}

/** Connect, gRPC-Web and gRPC for the broker, with CORS for browsers. */
export function connectHandler(broker: Broker, options: ConnectHandlerOptions): HttpHandler {
  const { fallback } = options;
  // connect-node hands `contextValues` only the request; remember its response.
  const responses = new WeakMap<object, NodeResponse>();
  const adapter = connectNodeAdapter({
    routes: brokerRoutes(broker, options.authenticator ?? OPEN, options.log ?? SILENT_LOG),
    readMaxBytes: options.maxReceiveMessageBytes,
    interceptors: options.interceptors ?? [],
    // No compression: Subscribe sends its headers early (early-headers.ts),
    // before connect-node would add the negotiated content-encoding header, so
    // a compressed stream message (any over 1 KiB) reached clients that could
    // not know how to decompress it. Bodies are opaque and often compressed.
    acceptCompression: [],
    contextValues: (request) => earlyHeadersContext(request.headers["content-type"], responses.get(request)),
    // Its response type is a narrower view of the same Node objects.
    fallback: fallback && ((request, response) => fallback(request, response as NodeResponse)),
  });
  return (request, response) => {
    if (handleCors(request, response)) return;
    responses.set(request, response);
    adapter(request, response);
  };
}
