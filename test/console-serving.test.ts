import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { loadConfig } from "../gateway/src/config.js";
import { DualProtocolServer } from "../gateway/src/transports/connect/http-server.js";
import { notFound } from "../gateway/src/transports/connect/not-found.js";
import { loadConsoleAssets } from "../gateway/src/transports/console/console-assets.js";
import { consoleHandler } from "../gateway/src/transports/console/console-handler.js";
import { buildConsole } from "./support/browser.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { bytes } from "./support/streams.js";

/** A plain HTTP/1.1 request, as a browser's first visit makes it (Node's fetch asks for gzip itself). */
async function get(port: number, urlPath: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${urlPath}`, init);
}

describe("the web console's files on the HTTP port", () => {
  let stop: () => Promise<void>;
  let ports: { grpcPort: number; httpPort: number };

  before(async () => {
    await buildConsole();
    const started = await startGateway("memory");
    stop = started.stop;
    ports = started.gateway;
  });
  after(() => stop());

  it("serves the page at / and its script and stylesheet, small and compressed", async () => {
    const page = await get(ports.httpPort, "/");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(await page.text(), /<title>Broker console<\/title>/);
    const script = await get(ports.httpPort, "/console.js");
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(script.headers.get("content-encoding"), "gzip");
    const compressed = Number(script.headers.get("content-length"));
    assert.ok(compressed < 60_000, `console.js is ${compressed} B gzipped; keep the console small`);
    assert.ok((await script.text()).length > 1000);
    assert.equal((await get(ports.httpPort, "/console.css")).status, 200);
  });

  it("answers a revalidation with 304 and HEAD without a body", async () => {
    const first = await get(ports.httpPort, "/index.html");
    const etag = first.headers.get("etag") ?? "";
    assert.ok(etag);
    const again = await get(ports.httpPort, "/", { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    const head = await get(ports.httpPort, "/", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });

  it("leaves every other path and method to the next handler (404)", async () => {
    for (const [urlPath, method] of [
      ["/nope", "GET"],
      ["/console.js.map", "GET"],
      ["/", "POST"],
      ["/broker.Broker/Nope", "POST"],
    ] as const) {
      const response = await get(ports.httpPort, urlPath, { method });
      assert.equal(response.status, 404, `${method} ${urlPath}`);
    }
  });

  it("does not stand in the way of the broker's routes on the same port", async () => {
    const client = brokerClient(ports, "connect");
    const { id } = await client.publish({ subject: "console-serving", body: bytes("x"), expirationSeconds: 60 });
    assert.equal(id, 1n);
  });
});

describe("the web console turned off", () => {
  it("CONSOLE=off answers / with 404 while the broker still serves", async () => {
    assert.equal(loadConfig({ CONSOLE: "off" }).console, false);
    assert.equal(loadConfig({}).console, true);
    assert.throws(() => loadConfig({ CONSOLE: "maybe" }), /CONSOLE must be 'on' or 'off'/);
    const { gateway, stop } = await startGateway("memory", { console: false });
    try {
      assert.equal((await get(gateway.httpPort, "/")).status, 404);
      const client = brokerClient(gateway, "grpc-web");
      assert.equal((await client.publish({ subject: "off", body: bytes("x"), expirationSeconds: 1 })).id, 1n);
    } finally {
      await stop();
    }
  });
});

describe("a console that has not been built", () => {
  it("answers / with 503 and says how to build it", async () => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "console-empty-"));
    const server = new DualProtocolServer(consoleHandler(await loadConsoleAssets(empty), notFound));
    try {
      const port = await server.listen(0, "127.0.0.1");
      const response = await get(port, "/");
      assert.equal(response.status, 503);
      assert.match(await response.text(), /npm run build/);
      assert.equal((await get(port, "/elsewhere")).status, 404);
    } finally {
      await server.close(1000);
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe("the compressed script", () => {
  it("decodes to the file the build wrote", async () => {
    const assets = await loadConsoleAssets();
    const script = assets.get("/console.js");
    assert.ok(script);
    assert.deepEqual(gunzipSync(script.gzipped), script.body);
  });
});
