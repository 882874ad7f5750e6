import assert from "node:assert/strict";
import http2 from "node:http2";
import { describe, it } from "node:test";
import { loadConfig } from "../gateway/src/config.js";
import { ConfigError } from "../gateway/src/process/env.js";
import { gatewayForSuite } from "./support/gateway.js";
import { type HttpOutcome, rawHttpRequest } from "./support/raw-calls.js";

const PUBLISH_JSON = Buffer.from(JSON.stringify({ subject: "cors", body: "aGk=", expirationSeconds: 60 }));

function preflight(port: number, origin: string): Promise<HttpOutcome> {
  return rawHttpRequest(port, "/broker.Broker/Publish", {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,connect-protocol-version",
    },
  });
}

function publishFrom(port: number, headers: Record<string, string>): Promise<HttpOutcome> {
  return rawHttpRequest(port, "/broker.Broker/Publish", {
    headers: { "content-type": "application/json", ...headers },
    body: PUBLISH_JSON,
  });
}

describe("CORS_ORIGINS and ALLOWED_HOSTS from the environment", () => {
  it("refuses CORS_ORIGINS='*' while authentication is on, naming both variables", () => {
    for (const auth of ["AUTH_JWT_SECRET", "AUTH_JWT_PUBLIC_KEY", "AUTH_JWKS_URL"]) {
      assert.throws(
        () => loadConfig({ CORS_ORIGINS: "*", [auth]: "x" }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.includes("CORS_ORIGINS") && err.message.includes(auth),
      );
    }
  });

  it("without auth, defaults to any origin; with auth and nothing listed, to none", () => {
    assert.deepEqual(loadConfig({}).cors, { mode: "any" });
    assert.deepEqual(loadConfig({ AUTH_JWT_SECRET: "s".repeat(32) }).cors, { mode: "list", origins: new Set() });
  });

  it("accepts exact origins only: never 'null', a path or a mix with '*'", () => {
    const ok = loadConfig({ CORS_ORIGINS: "https://app.example.com, http://localhost:3000" }).cors;
    assert.deepEqual(ok, { mode: "list", origins: new Set(["https://app.example.com", "http://localhost:3000"]) });
    for (const bad of [
      "null",
      "https://app.example.com/",
      "app.example.com",
      "*,https://a.example",
      "ftp://x.example",
    ]) {
      assert.throws(
        () => loadConfig({ CORS_ORIGINS: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.includes("CORS_ORIGINS"),
        bad,
      );
    }
  });

  it("reads ALLOWED_HOSTS as host or host:port entries", () => {
    assert.deepEqual(loadConfig({ ALLOWED_HOSTS: "Broker.example.com, localhost:8080, [::1]" }).allowedHosts, [
      "broker.example.com",
      "localhost:8080",
      "[::1]",
    ]);
    assert.throws(() => loadConfig({ ALLOWED_HOSTS: "http://x" }), /ALLOWED_HOSTS/);
  });
});

describe("CORS with an origin list", () => {
  const listed = "https://app.example.com";
  const suite = gatewayForSuite("memory", {
    cors: { mode: "list", origins: new Set([listed]) },
  });

  it("answers a listed origin's preflight with exactly that origin", async () => {
    const answer = await preflight(suite.gateway.httpPort, listed);
    assert.equal(answer.status, 204);
    assert.equal(answer.headers["access-control-allow-origin"], listed);
    assert.match(String(answer.headers["access-control-allow-headers"]), /authorization/);
  });

  it("gives an evil origin and 'null' no CORS headers (preflight 403, calls unreadable by the page)", async () => {
    for (const origin of ["https://evil.example", "null", "https://app.example.com.evil.example"]) {
      const answer = await preflight(suite.gateway.httpPort, origin);
      assert.equal(answer.status, 403, origin);
      assert.equal(answer.headers["access-control-allow-origin"], undefined, origin);
      const call = await publishFrom(suite.gateway.httpPort, { origin });
      assert.equal(call.headers["access-control-allow-origin"], undefined, origin);
      assert.equal(call.headers.vary, "origin");
    }
  });

  it("serves a listed origin's call with its CORS headers", async () => {
    const call = await publishFrom(suite.gateway.httpPort, { origin: listed });
    assert.equal(call.status, 200, call.body.toString());
    assert.equal(call.headers["access-control-allow-origin"], listed);
  });
});

describe("CORS with no list and auth off (development)", () => {
  const suite = gatewayForSuite("memory");

  it("allows any real origin with '*', never echoing it, and gives 'null' nothing", async () => {
    const answer = await preflight(suite.gateway.httpPort, "https://anywhere.example");
    assert.equal(answer.status, 204);
    assert.equal(answer.headers["access-control-allow-origin"], "*");
    const call = await publishFrom(suite.gateway.httpPort, { origin: "https://anywhere.example" });
    assert.equal(call.headers["access-control-allow-origin"], "*");
    const sandboxed = await preflight(suite.gateway.httpPort, "null");
    assert.equal(sandboxed.headers["access-control-allow-origin"], undefined);
    assert.equal(sandboxed.status, 403);
  });
});

describe("CORS with auth on and no list", () => {
  const suite = gatewayForSuite("memory", { cors: loadConfig({ AUTH_JWT_SECRET: "s".repeat(32) }).cors });

  it("grants no cross-origin access at all", async () => {
    const answer = await preflight(suite.gateway.httpPort, "https://app.example.com");
    assert.equal(answer.status, 403);
    assert.equal(answer.headers["access-control-allow-origin"], undefined);
  });
});

describe("ALLOWED_HOSTS against DNS rebinding", () => {
  const suite = gatewayForSuite("memory", { allowedHosts: ["localhost", "127.0.0.1"] });

  it("refuses a foreign Host with 421 and serves listed ones", async () => {
    const foreign = await publishFrom(suite.gateway.httpPort, {
      host: `rebound.evil.example:${suite.gateway.httpPort}`,
    });
    assert.equal(foreign.status, 421);
    assert.match(foreign.body.toString(), /ALLOWED_HOSTS/);
    const local = await publishFrom(suite.gateway.httpPort, { host: `localhost:${suite.gateway.httpPort}` });
    assert.equal(local.status, 200, local.body.toString());
  });

  it("checks :authority on HTTP/2 too", async () => {
    const session = http2.connect(`http://127.0.0.1:${suite.gateway.httpPort}`);
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/broker.Broker/Publish",
          ":authority": "rebound.evil.example",
          "content-type": "application/json",
        });
        stream.on("response", (headers) => resolve(Number(headers[":status"])));
        stream.on("error", reject);
        stream.end(PUBLISH_JSON);
      });
      assert.equal(status, 421);
    } finally {
      session.close();
    }
  });

  it("leaves /healthz open to probes that use an address", async () => {
    const probe = await rawHttpRequest(suite.gateway.httpPort, "/healthz", {
      method: "GET",
      headers: { host: "10.1.2.3:8080" },
    });
    assert.equal(probe.status, 200);
  });
});
