import { createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";
import type { NodeResponse } from "./http-server.js";

/**
 * connect-node commits response headers only with the first message, but the
 * broker promises that a Subscribe stream is live once its headers arrive. So
 * a streaming handler calls `markStreamLive` right after it has registered its
 * subscription, which sends the headers the protocol would send anyway (the
 * content type mirrors the request's for Connect, gRPC and gRPC-Web streams).
 * Errors of all three protocols still travel at the end of the stream, so
 * committing early loses nothing.
 */

const kFlushHeaders = createContextKey<(() => void) | undefined>(undefined, {
  description: "sends a streaming response's headers early",
});

/** Context values for one request: lets the handler flush this response's headers. */
export function earlyHeadersContext(requestContentType: string | undefined, response: NodeResponse | undefined) {
  const values = createContextValues();
  if (response) values.set(kFlushHeaders, () => flushStreamHeaders(requestContentType, response));
  return values;
}

export function markStreamLive(context: HandlerContext): void {
  context.values.get(kFlushHeaders)?.();
}

function flushStreamHeaders(requestContentType: string | undefined, response: NodeResponse): void {
  const contentType = streamContentType(requestContentType);
  if (!contentType || response.headersSent) return;
  response.statusCode = 200;
  response.setHeader("content-type", contentType);
  // HTTP/2 sends the head at once; HTTP/1.1 holds it until flushed.
  if ("flushHeaders" in response) response.flushHeaders();
  else response.writeHead(200);
  // connect-node writes the head again with its first message; it is already
  // on the wire, so keep only what may still change (trailers for gRPC).
  const writeHead = () => response;
  (response as { writeHead: unknown }).writeHead = writeHead;
}

function streamContentType(requestContentType: string | undefined): string | undefined {
  const type = requestContentType?.split(";")[0]?.trim().toLowerCase();
  switch (type) {
    case "application/connect+proto":
    case "application/connect+json":
    case "application/grpc-web+proto":
    case "application/grpc-web+json":
    case "application/grpc+proto":
    case "application/grpc+json":
      return type;
    case "application/grpc":
    case "application/grpc-web":
      return `${type}+proto`;
    default:
      return undefined;
  }
}
