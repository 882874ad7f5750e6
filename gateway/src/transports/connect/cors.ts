import { cors } from "@connectrpc/connect";
import type { CorsPolicy } from "../../network-config.js";
import type { NodeRequest, NodeResponse } from "./http-server.js";

/**
 * CORS for browser clients on other origins, with the headers Connect and
 * gRPC-Web need (from @connectrpc/connect's `cors` constants), W3C trace
 * context and `authorization` (bearer tokens; never cookies, so no
 * credentials mode). The policy (CORS_ORIGINS) decides which origins:
 *
 * - any: `access-control-allow-origin: *`, the request's Origin never echoed,
 *   and `null` (sandboxed frames, file:// pages) gets nothing;
 * - list: exactly a listed origin is echoed; any other gets no CORS headers,
 *   so the browser keeps the response from the page (preflights: 403).
 *
 * Requests without CORS headers are still served: the browser enforces CORS,
 * and same-origin pages (the console) and non-browser clients need none.
 */
const allowMethods = cors.allowedMethods.join(", ");
const allowHeaders = [...cors.allowedHeaders, "authorization", "traceparent", "tracestate"].join(", ");
const exposeHeaders = cors.exposedHeaders.join(", ");

/** Adds CORS headers; returns true when the request was a preflight and is answered. */
export function handleCors(policy: CorsPolicy, request: NodeRequest, response: NodeResponse): boolean {
  const origin = request.headers.origin;
  if (!origin) return false;
  const allowed = allowedOrigin(policy, origin);
  if (policy.mode === "list") response.setHeader("vary", "origin");
  const preflight = request.method === "OPTIONS";
  if (allowed === undefined) {
    if (!preflight) return false;
    response.statusCode = 403;
    response.end();
    return true;
  }
  response.setHeader("access-control-allow-origin", allowed);
  response.setHeader("access-control-expose-headers", exposeHeaders);
  if (!preflight) return false;
  response.setHeader("access-control-allow-methods", allowMethods);
  response.setHeader("access-control-allow-headers", allowHeaders);
  response.setHeader("access-control-max-age", "7200");
  response.statusCode = 204;
  response.end();
  return true;
}

/** The access-control-allow-origin value for `origin`, or undefined: no cross-origin access. */
function allowedOrigin(policy: CorsPolicy, origin: string): string | undefined {
  if (policy.mode === "any") return origin === "null" ? undefined : "*";
  return policy.origins.has(origin) ? origin : undefined;
}
