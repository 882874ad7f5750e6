import { Http2ServerRequest, constants as http2Constants } from "node:http2";
import { type ConnectRouter, type ContextValues, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import { createAsyncIterable, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { ClientLimits } from "../../limits/client-limits.js";
import { kRefusal } from "./call-context.js";
import type { HttpHandler, NodeRequest, NodeResponse } from "./http-server.js";
import { gateRequest, placeholderBody } from "./request-gate.js";

export interface GatedAdapterOptions {
  readonly routes: (router: ConnectRouter) => void;
  readonly interceptors: Interceptor[];
  readonly readMaxBytes: number;
  readonly contextValues: (request: NodeRequest) => ContextValues;
  readonly fallback: HttpHandler;
  readonly limits: ClientLimits;
}

/**
 * connect-node's connectNodeAdapter with the request gate (request-gate.ts)
 * in front of each call: the body is read and checked first, then replayed
 * to connect-node, or replaced by an empty message with the refusal in the
 * call's context (raised by the limits interceptor). A request refused before
 * its body ended (stalled, too large) has its stream or connection closed
 * once the answer is out, so the client cannot keep it open.
 */
export function gatedConnectAdapter(options: GatedAdapterOptions): HttpHandler {
  const router = createConnectRouter({
    interceptors: options.interceptors,
    readMaxBytes: options.readMaxBytes,
    // No compression: Subscribe sends its headers early (early-headers.ts),
    // before connect-node would add the negotiated content-encoding header, so
    // a compressed stream message (any over 1 KiB) reached clients that could
    // not know how to decompress it. Bodies are opaque and often compressed.
    acceptCompression: [],
  });
  options.routes(router);
  const paths = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  return (request, response) => {
    const handler = paths.get((request.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) {
      options.fallback(request, response);
      return;
    }
    const values = options.contextValues(request);
    const universal = universalRequestFromNodeRequest(request, response, undefined, values);
    void gated(universal, handler.method.input, options, values, request, response).then((replayed) =>
      handler(replayed)
        .then((answer) => universalResponseToNodeResponse(answer, response))
        .catch(() => {
          // The client went away mid-answer; connect-node has aborted the call.
        }),
    );
  };
}

async function gated(
  universal: UniversalServerRequest,
  input: Parameters<typeof gateRequest>[2],
  options: GatedAdapterOptions,
  values: ContextValues,
  request: NodeRequest,
  response: NodeResponse,
): Promise<UniversalServerRequest> {
  const { body } = universal;
  if (universal.method !== "POST" || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) {
    return universal;
  }
  const outcome = await gateRequest(
    body as AsyncIterable<Uint8Array>,
    universal.header,
    input,
    options.limits,
    options.readMaxBytes,
  );
  if (outcome.ok) return { ...universal, body: createAsyncIterable(outcome.chunks) };
  values.set(kRefusal, outcome.refusal);
  if (!outcome.complete) closeWhenAnswered(request, response);
  const header = new Headers(universal.header);
  header.delete("content-length");
  return { ...universal, header, body: createAsyncIterable([placeholderBody(header.get("content-type"))]) };
}

function closeWhenAnswered(request: NodeRequest, response: NodeResponse): void {
  if (request instanceof Http2ServerRequest) {
    // Node's compatibility layer always ends a response with trailers, sent from its own
    // 'wantTrailers' listener; this one runs after it. (The response's 'finish' waits for the client's half.)
    const { stream } = request;
    stream.once("wantTrailers", () => setImmediate(() => stream.close(http2Constants.NGHTTP2_NO_ERROR)));
  } else {
    response.setHeader("connection", "close");
    response.once("finish", () => request.socket.destroy());
  }
}
