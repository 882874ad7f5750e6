import { type CryptoKey, type KeyObject, SignJWT } from "jose";
import type { AuthConfig } from "../../gateway/src/auth/auth-config.js";
import { loadAuthConfig } from "../../gateway/src/auth/auth-config.js";

/** The HS256 secret, issuer and audience of the test gateways. */
export const TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long";
export const TEST_ISSUER = "broker-tests";
export const TEST_AUDIENCE = "broker-gateway";

/** Auth on with the test secret, issuer and audience, and no clock skew (so expiry is exact). */
export function testAuthConfig(overrides: Record<string, string> = {}): AuthConfig {
  const config = loadAuthConfig({
    AUTH_JWT_SECRET: TEST_SECRET,
    AUTH_JWT_ISSUER: TEST_ISSUER,
    AUTH_JWT_AUDIENCE: TEST_AUDIENCE,
    AUTH_CLOCK_SKEW_SECONDS: "0",
    ...overrides,
  });
  if (!config) throw new Error("auth config expected");
  return config;
}

export interface TokenSpec {
  readonly sub?: string;
  readonly publish?: readonly string[];
  readonly subscribe?: readonly string[];
  /** Seconds from now until `exp` (negative: already expired). */
  readonly ttlSeconds?: number;
  readonly issuer?: string;
  readonly audience?: string;
  /** Signing key (default: the test secret, HS256). */
  readonly key?: Uint8Array | KeyObject | CryptoKey;
  readonly alg?: string;
  /** Extra or replacing claims (e.g. a malformed `broker`). */
  readonly claims?: Record<string, unknown>;
}

export function mintToken(spec: TokenSpec = {}): Promise<string> {
  const claims = { broker: { publish: spec.publish ?? [], subscribe: spec.subscribe ?? [] }, ...spec.claims };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: spec.alg ?? "HS256" })
    .setSubject(spec.sub ?? "tester")
    .setIssuer(spec.issuer ?? TEST_ISSUER)
    .setAudience(spec.audience ?? TEST_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (spec.ttlSeconds ?? 600))
    .sign(spec.key ?? new TextEncoder().encode(TEST_SECRET));
}
