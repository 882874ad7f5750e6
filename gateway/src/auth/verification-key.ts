import { createPublicKey, type KeyObject } from "node:crypto";
import { createRemoteJWKSet, type JWTVerifyGetKey } from "jose";
import { ConfigError, type Env, integer } from "../process/env.js";

/** What token signatures are checked against, and the algorithms accepted with it. */
export interface VerificationKey {
  /** Which variable configured it, for logs. */
  readonly source: "AUTH_JWT_SECRET" | "AUTH_JWT_PUBLIC_KEY" | "AUTH_JWKS_URL";
  readonly key: Uint8Array | KeyObject | JWTVerifyGetKey;
  /** Pinned per key type, so a token can never pick a weaker or confused algorithm (e.g. HS256 with a public key). */
  readonly algorithms: readonly string[];
}

/** HS256 needs a key at least as long as its hash (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;

const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
];

/** The configured key, or undefined when none is (auth off). More than one is refused. */
export function loadVerificationKey(env: Env): VerificationKey | undefined {
  const set = (["AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY", "AUTH_JWKS_URL"] as const).filter((name) => env[name]);
  if (set.length > 1) throw new ConfigError(`${set.join(" and ")} are all set: choose one key source`);
  if (env.AUTH_JWT_SECRET) return secretKey(env.AUTH_JWT_SECRET);
  if (env.AUTH_JWT_PUBLIC_KEY) return publicKey(env.AUTH_JWT_PUBLIC_KEY);
  if (env.AUTH_JWKS_URL) return jwks(env, env.AUTH_JWKS_URL);
  return undefined;
}

/** The HS256 secret's bytes (UTF-8), also what mint-token signs with. */
export function secretBytes(secret: string): Uint8Array {
  const bytes = new TextEncoder().encode(secret);
  if (bytes.byteLength < MIN_SECRET_BYTES) {
    throw new ConfigError(`AUTH_JWT_SECRET must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.byteLength}`);
  }
  return bytes;
}

function secretKey(secret: string): VerificationKey {
  return { source: "AUTH_JWT_SECRET", key: secretBytes(secret), algorithms: ["HS256"] };
}

function publicKey(raw: string): VerificationKey {
  // Environment files often carry a PEM on one line with literal \n.
  const pem = raw.includes("\\n") ? raw.replaceAll("\\n", "\n") : raw;
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`AUTH_JWT_PUBLIC_KEY is not a PEM public key (SPKI or certificate): ${reason}`);
  }
  return { source: "AUTH_JWT_PUBLIC_KEY", key, algorithms: algorithmsFor(key) };
}

function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512"];
    case "rsa-pss":
      return ["PS256", "PS384", "PS512"];
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const alg = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" }[curve ?? ""];
      if (!alg) throw new ConfigError(`AUTH_JWT_PUBLIC_KEY: EC curve ${curve} has no JWT algorithm`);
      return [alg];
    }
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      throw new ConfigError(
        `AUTH_JWT_PUBLIC_KEY: ${key.asymmetricKeyType} keys are not supported (use RSA, EC P-256/384/521 or Ed25519)`,
      );
  }
}

function jwks(env: Env, raw: string): VerificationKey {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`AUTH_JWKS_URL must be an http(s) URL, got '${raw}'`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`AUTH_JWKS_URL must be an http(s) URL, got '${raw}'`);
  }
  // jose caches the key set, refetches it when a token names an unknown kid
  // (at most once per cooldown) and when the cache is older than cacheMaxAge.
  const key = createRemoteJWKSet(url, {
    cacheMaxAge: integer(env, "AUTH_JWKS_CACHE_SECONDS", 600, 1) * 1000,
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });
  return { source: "AUTH_JWKS_URL", key, algorithms: ASYMMETRIC };
}
