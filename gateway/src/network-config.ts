import { type ClientLimitsConfig, DEFAULT_CLIENT_LIMITS } from "./limits/client-limits.js";
import { ConfigError, type Env, integer } from "./process/env.js";

/**
 * The settings that make the gateway safe to put on a network: which browser
 * origins may call it (CORS_ORIGINS), which Host names it answers
 * (ALLOWED_HOSTS) and what one client may hold (the limits). docs/security.md
 * explains each.
 */

/** Cross-origin access for browsers: any origin (but `null`), or exactly the listed ones (none: no CORS). */
export type CorsPolicy = { readonly mode: "any" } | { readonly mode: "list"; readonly origins: ReadonlySet<string> };

/** Either variable set means tokens are checked (auth itself is configured elsewhere). */
const AUTH_VARIABLES = ["AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY", "AUTH_JWKS_URL"] as const;

/** The first AUTH_* key variable that is set, if any: authentication is on. */
export function authVariable(env: Env): string | undefined {
  return AUTH_VARIABLES.find((name) => (env[name] ?? "").trim() !== "");
}

/**
 * CORS_ORIGINS: comma-separated exact origins (`https://app.example.com`), or
 * `*` for any origin, which only an open gateway (no AUTH_* key) may use.
 * Unset: `*` without auth (development), no cross-origin access with auth.
 */
export function corsPolicy(env: Env): CorsPolicy {
  const auth = authVariable(env);
  const raw = (env.CORS_ORIGINS ?? "").trim();
  if (raw === "") return auth ? { mode: "list", origins: new Set() } : { mode: "any" };
  const entries = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.includes("*")) {
    if (entries.length > 1) throw new ConfigError(`CORS_ORIGINS: '*' cannot be combined with origins, got '${raw}'`);
    if (auth) {
      throw new ConfigError(
        `CORS_ORIGINS='*' is refused while authentication is on (${auth} is set): list the allowed origins`,
      );
    }
    return { mode: "any" };
  }
  return { mode: "list", origins: new Set(entries.map(exactOrigin)) };
}

function exactOrigin(entry: string): string {
  if (entry === "null") {
    throw new ConfigError("CORS_ORIGINS: 'null' is never allowed (sandboxed pages and file:// URLs all send it)");
  }
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw new ConfigError(`CORS_ORIGINS: '${entry}' is not an origin (scheme://host[:port])`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.origin !== entry.toLowerCase()) {
    throw new ConfigError(
      `CORS_ORIGINS: '${entry}' is not an exact origin; write it as a browser sends it, e.g. '${url.origin}'`,
    );
  }
  return url.origin;
}

/**
 * ALLOWED_HOSTS: comma-separated `host` or `host:port` (IPv6 in brackets);
 * a host without a port matches it on any port. Unset: any Host.
 */
export function allowedHosts(env: Env): readonly string[] | undefined {
  const raw = (env.ALLOWED_HOSTS ?? "").trim();
  if (raw === "") return undefined;
  return raw
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== "")
    .map((entry) => {
      if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(entry)) {
        throw new ConfigError(`ALLOWED_HOSTS: '${entry}' is not a host or host:port`);
      }
      return entry;
    });
}

export function clientLimits(env: Env): ClientLimitsConfig {
  const defaults = DEFAULT_CLIENT_LIMITS;
  const publishRateLimit = integer(env, "PUBLISH_RATE_LIMIT", defaults.publishRateLimit, 0);
  return {
    maxConnections: integer(env, "MAX_CONNECTIONS", defaults.maxConnections, 1),
    maxSubscribeStreamsPerConnection: integer(
      env,
      "MAX_SUBSCRIBE_STREAMS_PER_CONNECTION",
      defaults.maxSubscribeStreamsPerConnection,
      1,
    ),
    maxSubscribeStreams: integer(env, "MAX_SUBSCRIBE_STREAMS", defaults.maxSubscribeStreams, 1),
    publishRateLimit,
    // One second's worth unless told otherwise.
    publishBurst: integer(env, "PUBLISH_BURST", publishRateLimit, publishRateLimit > 0 ? 1 : 0),
    handshakeTimeoutMs: integer(env, "HANDSHAKE_TIMEOUT_MS", defaults.handshakeTimeoutMs, 0),
    requestReadTimeoutMs: integer(env, "REQUEST_READ_TIMEOUT_MS", defaults.requestReadTimeoutMs, 0),
  };
}
