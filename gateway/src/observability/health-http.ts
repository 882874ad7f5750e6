import type { NodeRequest, NodeResponse } from "../transports/connect/http-server.js";
import type { HealthState } from "./health-state.js";

/**
 * `/healthz` (the process serves HTTP) and `/readyz` (storage reachable, not
 * draining) on the HTTP port. Returns false for any other path, so the HTTP
 * fallback can hand the request on.
 */
export function handleHealthRequest(state: HealthState, request: NodeRequest, response: NodeResponse): boolean {
  const path = (request.url ?? "").split("?")[0];
  if (path !== "/healthz" && path !== "/readyz") return false;
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.statusCode = 405;
    response.setHeader("allow", "GET, HEAD");
    response.end();
    return true;
  }
  const { ready, reason } = path === "/healthz" ? { ready: true, reason: "ok" } : state.readiness();
  response.statusCode = ready ? 200 : 503;
  response.setHeader("content-type", "text/plain; charset=utf-8");
  response.setHeader("cache-control", "no-store");
  if (request.method === "HEAD") response.end();
  else response.end(`${reason}\n`);
  return true;
}
