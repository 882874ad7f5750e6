import { ConfigError, type Env, integer } from "../process/env.js";
import { loadVerificationKey, type VerificationKey } from "./verification-key.js";

/** How tokens are checked; absent from GatewayConfig when no AUTH_* key is set (an open gateway). */
export interface AuthConfig {
  readonly key: VerificationKey;
  /** Required `iss`, when set. */
  readonly issuer: string | undefined;
  /** Accepted `aud` values (any one must appear in the token), when set. */
  readonly audience: readonly string[] | undefined;
  /** Leeway for `exp` and `nbf` against clock differences between issuer and gateway. */
  readonly clockSkewSeconds: number;
  /** Verified tokens kept (least recently used go first) so a token is verified once, not per call. */
  readonly tokenCacheSize: number;
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 5;
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

/**
 * AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL (exactly one) turns
 * authentication on; with none the gateway is open and this returns
 * undefined. Settings that only make sense with a key, set without one, are
 * refused rather than silently ignored.
 */
export function loadAuthConfig(env: Env): AuthConfig | undefined {
  const key = loadVerificationKey(env);
  if (!key) {
    for (const name of ["AUTH_JWT_ISSUER", "AUTH_JWT_AUDIENCE"]) {
      if (env[name]) {
        throw new ConfigError(
          `${name} is set but no key is: set AUTH_JWT_SECRET, AUTH_JWT_PUBLIC_KEY or AUTH_JWKS_URL to turn authentication on`,
        );
      }
    }
    return undefined;
  }
  const audience = env.AUTH_JWT_AUDIENCE?.split(",")
    .map((value) => value.trim())
    .filter((value) => value !== "");
  return {
    key,
    issuer: env.AUTH_JWT_ISSUER || undefined,
    audience: audience && audience.length > 0 ? audience : undefined,
    clockSkewSeconds: integer(env, "AUTH_CLOCK_SKEW_SECONDS", DEFAULT_CLOCK_SKEW_SECONDS, 0),
    tokenCacheSize: integer(env, "AUTH_TOKEN_CACHE_SIZE", DEFAULT_TOKEN_CACHE_SIZE, 1),
  };
}
