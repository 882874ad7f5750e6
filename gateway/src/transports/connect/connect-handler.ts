import type { Interceptor } from "@connectrpc/connect";
import { type Authenticator, OPEN } from "../../auth/authenticator.js";
import type { Broker } from "../../core/broker.js";
import { type Log, SILENT_LOG } from "../../core/log.js";
import type { ClientLimits } from "../../limits/client-limits.js";
import type { CorsPolicy } from "../../network-config.js";
import { clientIdentity } from "../client-identity.js";
import { allowedHostsGuard } from "./allowed-hosts.js";
import { brokerRoutes } from "./broker-routes.js";
import { kClient } from "./call-context.js";
import { handleCors } from "./cors.js";
import { earlyHeadersContext } from "./early-headers.js";
import { gatedConnectAdapter } from "./gated-adapter.js";
import type { HttpHandler, NodeResponse } from "./http-server.js";
import { limitsInterceptor } from "./limits-interceptor.js";

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
  /** Which browser origins get CORS headers (CORS_ORIGINS). */
  readonly cors: CorsPolicy;
  /** Host / :authority values answered (ALLOWED_HOSTS); undefined: any. */
  readonly allowedHosts: readonly string[] | undefined;
  readonly limits: ClientLimits;
}

/** Connect, gRPC-Web and gRPC for the broker, with CORS for browsers. */
export function connectHandler(broker: Broker, options: ConnectHandlerOptions): HttpHandler {
  const { cors } = options;
  const fallback: HttpHandler = options.fallback ?? ((_request, response) => void response.writeHead(404).end());
  const refusesHost = allowedHostsGuard(options.allowedHosts);
  // connect-node hands `contextValues` only the request; remember its response.
  const responses = new WeakMap<object, NodeResponse>();
  const adapter = gatedConnectAdapter({
    routes: brokerRoutes(broker, options.authenticator ?? OPEN, options.log ?? SILENT_LOG),
    readMaxBytes: options.maxReceiveMessageBytes,
    // The observers first (outermost), so they see the limits' refusals with their codes.
    interceptors: [...(options.interceptors ?? []), limitsInterceptor(options.limits, options.authenticator)],
    contextValues: (request) => {
      const values = earlyHeadersContext(request.headers["content-type"], responses.get(request));
      const { remoteAddress, remotePort } = request.socket;
      return values.set(kClient, clientIdentity(remoteAddress, remotePort));
    },
    fallback,
    limits: options.limits,
  });
  return (request, response) => {
    if (refusesHost(request, response)) return;
    if (handleCors(cors, request, response)) return;
    responses.set(request, response);
    adapter(request, response);
  };
}
