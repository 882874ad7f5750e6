import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { cors } from "@connectrpc/connect";

/**
 * CORS for browser clients on other origins, with the headers Connect and
 * gRPC-Web need (from @connectrpc/connect's `cors` constants) plus W3C trace
 * context. Any origin is allowed: the broker has no cookies or credentials.
 */
const allowMethods = cors.allowedMethods.join(", ");
const allowHeaders = [...cors.allowedHeaders, "traceparent", "tracestate"].join(", ");
const exposeHeaders = cors.exposedHeaders.join(", ");

/** Adds CORS headers; returns true when the request was a preflight and is answered. */
export function handleCors(
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
): boolean {
  const origin = request.headers.origin;
  if (!origin) return false;
  response.setHeader("access-control-allow-origin", origin);
  response.setHeader("vary", "origin");
  response.setHeader("access-control-expose-headers", exposeHeaders);
  if (request.method !== "OPTIONS") return false;
  response.setHeader("access-control-allow-methods", allowMethods);
  response.setHeader("access-control-allow-headers", allowHeaders);
  response.setHeader("access-control-max-age", "7200");
  response.statusCode = 204;
  response.end();
  return true;
}
