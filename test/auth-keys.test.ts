import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { exportJWK, SignJWT } from "jose";
import { loadAuthConfig } from "../gateway/src/auth/auth-config.js";
import { authenticator } from "../gateway/src/auth/authenticator.js";
import { LruCache } from "../gateway/src/auth/token-cache.js";
import { loadConfig } from "../gateway/src/config.js";
import { BrokerError } from "../gateway/src/core/errors.js";
import { ConfigError } from "../gateway/src/process/env.js";
import { mintToken, TEST_SECRET, type TokenSpec, testAuthConfig } from "./support/tokens.js";

const refusedWith = (code: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof BrokerError, `expected a BrokerError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, pattern);
  return true;
};

const pem = (key: KeyObject): string => key.export({ type: "spki", format: "pem" }).toString();

describe("auth configuration from the environment", () => {
  it("leaves the gateway open when no AUTH_* key is set", () => {
    assert.equal(loadConfig({}).auth, undefined);
  });

  it("refuses unusable settings, naming the variable", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ AUTH_JWT_SECRET: "short" }, /AUTH_JWT_SECRET must be at least 32 bytes/],
      [{ AUTH_JWT_SECRET: TEST_SECRET, AUTH_JWKS_URL: "https://x/jwks" }, /AUTH_JWT_SECRET and AUTH_JWKS_URL/],
      [{ AUTH_JWT_AUDIENCE: "a" }, /AUTH_JWT_AUDIENCE is set but no key is/],
      [{ AUTH_JWT_ISSUER: "i" }, /AUTH_JWT_ISSUER is set but no key is/],
      [{ AUTH_JWT_PUBLIC_KEY: "not a pem" }, /AUTH_JWT_PUBLIC_KEY is not a PEM public key/],
      [{ AUTH_JWKS_URL: "ftp://x/jwks" }, /AUTH_JWKS_URL must be an http\(s\) URL/],
      [{ AUTH_JWKS_URL: "not a url" }, /AUTH_JWKS_URL must be an http\(s\) URL/],
      [{ AUTH_JWT_SECRET: TEST_SECRET, AUTH_CLOCK_SKEW_SECONDS: "-1" }, /AUTH_CLOCK_SKEW_SECONDS/],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
        JSON.stringify(env),
      );
    }
  });

  it("accepts a PEM given on one line with literal \\n, as env files carry it", () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const config = loadAuthConfig({ AUTH_JWT_PUBLIC_KEY: pem(publicKey).replaceAll("\n", "\\n") });
    assert.deepEqual(config?.key.algorithms, ["EdDSA", "Ed25519"]);
  });
});

describe("tokens signed with a public key pair (AUTH_JWT_PUBLIC_KEY)", () => {
  for (const [type, options, alg] of [
    ["ec", { namedCurve: "P-256" }, "ES256"],
    ["ed25519", {}, "EdDSA"],
    ["rsa", { modulusLength: 2048 }, "RS256"],
  ] as const) {
    it(`verifies ${alg} and refuses an HS256 token keyed with the public key (algorithm confusion)`, async () => {
      const { publicKey, privateKey } = generateKeyPairSync(type as "ec", options as { namedCurve: string });
      const auth = authenticator(testAuthConfig({ AUTH_JWT_SECRET: "", AUTH_JWT_PUBLIC_KEY: pem(publicKey) }));
      const token = await mintToken({ sub: "k", publish: ["a.>"], key: privateKey, alg });
      const caller = await auth.authenticate(`Bearer ${token}`);
      assert.equal(caller.id, "k");
      assert.equal(caller.mayPublish("a.b"), true);
      assert.equal(caller.mayPublish("b"), false);
      const confused = await mintToken({ key: new TextEncoder().encode(pem(publicKey)), alg: "HS256" });
      await assert.rejects(
        auth.authenticate(`Bearer ${confused}`),
        refusedWith("unauthenticated", /algorithm this gateway does not accept/),
      );
    });
  }
});

describe("tokens verified against a key set (AUTH_JWKS_URL)", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  let server: Server;
  let url: string;
  let fetches = 0;
  before(async () => {
    const jwk = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
    server = createServer((_request, response) => {
      fetches += 1;
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("fetches the key set once and verifies tokens by kid", async () => {
    const auth = authenticator(testAuthConfig({ AUTH_JWT_SECRET: "", AUTH_JWKS_URL: url }));
    const sign = (sub: string, kid = "key-1") =>
      new SignJWT({ broker: { subscribe: [">"] } })
        .setProtectedHeader({ alg: "ES256", kid })
        .setSubject(sub)
        .setIssuer("broker-tests")
        .setAudience("broker-gateway")
        .setExpirationTime("10m")
        .sign(privateKey);
    assert.equal((await auth.authenticate(`Bearer ${await sign("one")}`)).id, "one");
    assert.equal((await auth.authenticate(`Bearer ${await sign("two")}`)).id, "two");
    assert.equal(fetches, 1);
    const unknownKid = await sign("three", "key-2");
    await assert.rejects(
      auth.authenticate(`Bearer ${unknownKid}`),
      refusedWith("unauthenticated", /bad signature: no key of the key set/),
    );
  });

  it("answers UNAVAILABLE (not UNAUTHENTICATED) when the key set cannot be fetched", async () => {
    const auth = authenticator(testAuthConfig({ AUTH_JWT_SECRET: "", AUTH_JWKS_URL: "http://127.0.0.1:1/jwks.json" }));
    const token = await mintToken({ key: privateKey, alg: "ES256" });
    await assert.rejects(auth.authenticate(`Bearer ${token}`), refusedWith("unavailable", /could not be fetched/));
  });
});

describe("token claims", () => {
  it("refuses an empty 'sub' (it scopes idempotency keys) and a malformed 'broker' claim", async () => {
    const auth = authenticator(testAuthConfig());
    const cases: [TokenSpec, RegExp][] = [
      [{ sub: "" }, /'sub' claim must not be empty/],
      [{ claims: { broker: ["orders"] } }, /'broker' claim must be an object/],
      [{ claims: { broker: { publish: "orders" } } }, /'broker\.publish' must be a list/],
    ];
    for (const [spec, message] of cases) {
      const token = await mintToken(spec);
      await assert.rejects(auth.authenticate(`Bearer ${token}`), refusedWith("unauthenticated", message));
    }
  });

  it("grants nothing without a 'broker' claim", async () => {
    const auth = authenticator(testAuthConfig());
    const caller = await auth.authenticate(`Bearer ${await mintToken({ claims: { broker: undefined } })}`);
    assert.equal(caller.mayPublish("a"), false);
    assert.equal(caller.maySubscribe("a"), false);
  });
});

describe("the verified-token cache", () => {
  it("verifies a token once and refuses it from the cache once it has expired", async () => {
    let now = Date.now();
    const auth = authenticator(testAuthConfig(), () => now);
    const token = `Bearer ${await mintToken({ ttlSeconds: 60 })}`;
    const first = await auth.authenticate(token);
    assert.equal(await auth.authenticate(token), first, "the second call is answered from the cache");
    now = first.expiresAt;
    await assert.rejects(auth.authenticate(token), refusedWith("unauthenticated", /token expired/));
  });

  it("evicts the least recently used entry past its capacity (recency kept to a touch interval)", () => {
    let now = 0;
    const cache = new LruCache<string, number>(2, 1_000, () => now);
    cache.set("a", 1);
    cache.set("b", 2);
    now = 1_000;
    assert.equal(cache.get("a"), 1);
    cache.set("c", 3);
    assert.deepEqual(
      ["a", "b", "c"].map((key) => cache.get(key)),
      [1, undefined, 3],
    );
    assert.equal(cache.size, 2);
  });
});
