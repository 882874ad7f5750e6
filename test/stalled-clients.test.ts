import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { DEFAULT_CLIENT_LIMITS } from "../gateway/src/limits/client-limits.js";
import { LIMIT_METRICS } from "../gateway/src/process/metric-names.js";
import { brokerClient } from "./support/clients.js";
import { gatewayForSuite } from "./support/gateway.js";
import { parseMetrics, sumOf } from "./support/metrics.js";
import { grpcFrame, idleConnection, rawGrpcCall, rawHttpRequest } from "./support/raw-calls.js";
import { sleep, subscribeLive } from "./support/streams.js";

const TIMEOUT_MS = 300;
/** The sweep runs every timeout / 4; allow for a loaded machine. */
const LATEST_MS = 2_500;

describe("stalled clients are closed", () => {
  const suite = gatewayForSuite("memory", {
    limits: { ...DEFAULT_CLIENT_LIMITS, handshakeTimeoutMs: TIMEOUT_MS, requestReadTimeoutMs: TIMEOUT_MS },
  });

  it("closes a connection that sends nothing, on both ports (HANDSHAKE_TIMEOUT_MS)", async () => {
    for (const port of [suite.gateway.grpcPort, suite.gateway.httpPort]) {
      const elapsed = await idleConnection(port).closed;
      assert.ok(elapsed >= TIMEOUT_MS - 20 && elapsed < LATEST_MS, `closed after ${elapsed} ms`);
    }
  });

  it("closes a connection stuck in a partial HTTP/2 preface or HTTP/1.1 request head", async () => {
    const partial = [
      { port: suite.gateway.grpcPort, bytes: Buffer.from("PRI * HTTP/2.0\r\n") },
      { port: suite.gateway.httpPort, bytes: Buffer.from("PRI * HTTP/2.0\r\n") },
      { port: suite.gateway.httpPort, bytes: Buffer.from("POST /broker.Broker/Publish HTTP/1.1\r\nHost: x\r\n") },
    ];
    const closed = await Promise.all(partial.map(({ port, bytes }) => idleConnection(port, bytes).closed));
    for (const elapsed of closed) assert.ok(elapsed < LATEST_MS, `closed after ${elapsed} ms`);
    const samples = parseMetrics(await suite.gateway.metrics.registry.metrics());
    assert.ok(sumOf(samples, LIMIT_METRICS.stalledClientsClosed, { stage: "handshake" }) >= 5);
  });

  it("leaves a connection that has made its request alone, however long it then idles", async () => {
    for (const route of ["grpc", "connect-h2c"] as const) {
      const client = brokerClient(suite.gateway, route);
      const subscription = await subscribeLive(client, `stall-live-${route}`);
      await sleep(TIMEOUT_MS * 3);
      await client.publish({ subject: `stall-live-${route}`, body: new Uint8Array([7]), expirationSeconds: 60 });
      await subscription.waitFor(1);
      subscription.close();
      await subscription.finished;
    }
  });

  it("ends a gRPC call whose frame stops short with DEADLINE_EXCEEDED (REQUEST_READ_TIMEOUT_MS), on both ports", async () => {
    const short = grpcFrame(Buffer.from([0x0a, 0x02, 0x68, 0x69]), { announced: 100 });
    for (const port of [suite.gateway.grpcPort, suite.gateway.httpPort]) {
      const outcome = await rawGrpcCall(port, "Publish", short, { end: false });
      assert.equal(outcome.status, Code.DeadlineExceeded, outcome.message);
      assert.match(outcome.message, /REQUEST_READ_TIMEOUT_MS/);
      assert.ok(outcome.elapsedMs < LATEST_MS, `ended after ${outcome.elapsedMs} ms`);
    }
  });

  it("answers an HTTP/1.1 request whose body stops short, then closes its connection", async () => {
    const outcome = await rawHttpRequest(suite.gateway.httpPort, "/broker.Broker/Publish", {
      headers: { "content-type": "application/json" },
      body: Buffer.from('{"subject":"x"'),
      declaredLength: 1_000,
    });
    const error = JSON.parse(outcome.body.toString("utf8")) as { code: string; message: string };
    assert.equal(error.code, "deadline_exceeded");
    assert.equal(outcome.headers.connection, "close");
    const samples = parseMetrics(await suite.gateway.metrics.registry.metrics());
    assert.ok(sumOf(samples, LIMIT_METRICS.stalledClientsClosed, { stage: "request" }) >= 3);
  });
});
