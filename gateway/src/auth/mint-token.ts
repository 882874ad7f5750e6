import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { ConfigError } from "../process/env.js";
import { SubjectPatterns } from "./subject-pattern.js";
import { secretBytes } from "./verification-key.js";

/**
 * Mints a development token signed with AUTH_JWT_SECRET (HS256) and prints
 * it alone, so `TOKEN=$(npm run -s token -- ...)` works:
 *
 *   npm run token -- --publish 'orders.>' --subscribe '>' [--sub name] [--ttl 3600]
 *
 * `--publish` and `--subscribe` repeat. AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE,
 * when set, go into `iss` / `aud` (the first audience), as the gateway expects.
 * Production tokens come from your identity provider, not from this script.
 */
function main(): void {
  const { values } = parseArgs({
    options: {
      publish: { type: "string", multiple: true, default: [] },
      subscribe: { type: "string", multiple: true, default: [] },
      sub: { type: "string", default: "dev" },
      ttl: { type: "string", default: "3600" },
    },
    strict: true,
  });
  const secret = process.env.AUTH_JWT_SECRET;
  if (!secret) throw new ConfigError("AUTH_JWT_SECRET is not set: it is the HS256 key the token is signed with");
  const ttl = Number(values.ttl);
  if (!Number.isSafeInteger(ttl) || ttl < 1) throw new ConfigError(`--ttl must be a whole number of seconds >= 1`);
  // Refuse here what the gateway would refuse later.
  SubjectPatterns.compile(values.publish);
  SubjectPatterns.compile(values.subscribe);
  const jwt = new SignJWT({ broker: { publish: values.publish, subscribe: values.subscribe } })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(values.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttl);
  if (process.env.AUTH_JWT_ISSUER) jwt.setIssuer(process.env.AUTH_JWT_ISSUER);
  const audience = process.env.AUTH_JWT_AUDIENCE?.split(",")[0]?.trim();
  if (audience) jwt.setAudience(audience);
  jwt.sign(secretBytes(secret)).then(
    (token) => process.stdout.write(`${token}\n`),
    (err: unknown) => fail(err),
  );
}

function fail(err: unknown): never {
  process.stderr.write(`token: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
}

try {
  main();
} catch (err) {
  fail(err);
}
