import { createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { commitHeadEarly } from "../../patches/connect-node-early-headers.js";
import type { NodeResponse } from "./http-server.js";

/**
 * connect-node commits response headers only with the first message, but the
 * broker promises that a Subscribe stream is live once its headers arrive. So
 * a streaming handler calls `markStreamLive` right after it has registered its
 * subscription, which sends the headers the protocol would send anyway (the
 * content type mirrors the request's for Connect, gRPC and gRPC-Web streams).
 * Errors of all three protocols still travel at the end of the stream, so
 * committing early loses nothing. How the head goes out early is a patch on
 * connect-node (patches/connect-node-early-headers.ts).
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
  if (contentType) commitHeadEarly(response, contentType);
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
