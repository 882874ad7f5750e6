import type { NodeRequest, NodeResponse } from "./http-server.js";

/**
 * ALLOWED_HOSTS on the HTTP port: a request whose Host (HTTP/1.1) or
 * :authority (HTTP/2) names another host is refused with 421 Misdirected
 * Request before anything else runs. This stops DNS rebinding: a page on
 * evil.example whose name was re-pointed at the gateway's address sends
 * `Host: evil.example`, so the browser's same-origin rule no longer protects
 * the gateway. /healthz and /readyz stay open to any Host (probes use
 * addresses, and they say nothing a page could use).
 */
export function allowedHostsGuard(
  allowed: readonly string[] | undefined,
): (request: NodeRequest, response: NodeResponse) => boolean {
  if (!allowed) return () => false;
  const exact = new Set(allowed.filter((entry) => hasPort(entry)));
  const anyPort = new Set(allowed.filter((entry) => !hasPort(entry)));
  return (request, response) => {
    const authority = (request.headers[":authority"] as string | undefined) ?? request.headers.host ?? "";
    const value = authority.toLowerCase();
    if (exact.has(value) || anyPort.has(hostOf(value))) return false;
    const path = (request.url ?? "").split("?")[0];
    if (path === "/healthz" || path === "/readyz") return false;
    response.statusCode = 421;
    response.setHeader("content-type", "text/plain; charset=utf-8");
    response.end(`host '${authority.slice(0, 256)}' is not served here (ALLOWED_HOSTS)\n`);
    return true;
  };
}

function hasPort(entry: string): boolean {
  return entry.startsWith("[") ? entry.includes("]:") : entry.includes(":");
}

/** `host` of `host[:port]`, IPv6 kept in brackets. */
function hostOf(authority: string): string {
  if (authority.startsWith("[")) {
    const end = authority.indexOf("]");
    return end < 0 ? authority : authority.slice(0, end + 1);
  }
  const colon = authority.lastIndexOf(":");
  return colon < 0 ? authority : authority.slice(0, colon);
}
