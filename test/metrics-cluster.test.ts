import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Broker } from "../gateway/gen/broker/broker_pb.js";
import { BROKER_METRICS, RPC_METRICS } from "../gateway/src/process/metric-names.js";
import { brokerClient } from "./support/clients.js";
import { scrape, sumOf } from "./support/metrics.js";
import { eventually, freePort, type RunningProcess, startNode } from "./support/node-process.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes } from "./support/streams.js";

/** Publishes over this many separate connections, so node:cluster spreads them over the workers. */
const CONNECTIONS = 12;

describe("metrics of a gateway with two node:cluster workers", () => {
  let gateway: RunningProcess;
  let ports: { grpcPort: number; httpPort: number; metricsPort: number };
  const prefix = uniquePrefix("cluster");

  before(async () => {
    ports = { grpcPort: await freePort(), httpPort: await freePort(), metricsPort: await freePort() };
    gateway = startNode("gateway/src/main.ts", {
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      WORKERS: "2",
      HOST: "127.0.0.1",
      GRPC_PORT: String(ports.grpcPort),
      HTTP_PORT: String(ports.httpPort),
      METRICS_PORT: String(ports.metricsPort),
    });
    await eventually("two workers listening", () =>
      gateway.stdout().split("gateway listening").length - 1 >= 2 ? true : undefined,
    );
  });
  after(async () => {
    await gateway?.stop();
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  it("sums the workers' counters on the primary's /metrics, equal to the calls made", async () => {
    for (let i = 0; i < CONNECTIONS; i++) {
      // A transport of its own: a new HTTP/2 connection, handed to the next worker.
      const transport = createGrpcTransport({
        baseUrl: `http://127.0.0.1:${ports.grpcPort}`,
        idleConnectionTimeoutMs: 100,
      });
      await createClient(Broker, transport).publish({
        subject: "cluster",
        body: bytes(`m${i}`),
        expirationSeconds: 60,
      });
    }
    const connect = brokerClient(ports, "connect");
    for (let i = 0; i < 3; i++) await connect.fetch({ subject: "cluster", id: BigInt(i + 1) });

    const samples = await scrape(ports.metricsPort);
    const labels = { grpc_service: "broker.Broker", grpc_code: "OK" };
    assert.equal(
      sumOf(samples, RPC_METRICS.handled, { ...labels, grpc_method: "Publish", transport: "grpc" }),
      CONNECTIONS,
    );
    assert.equal(sumOf(samples, RPC_METRICS.handled, { ...labels, grpc_method: "Fetch", transport: "connect" }), 3);
    assert.equal(sumOf(samples, BROKER_METRICS.published), CONNECTIONS);
    assert.equal(sumOf(samples, `${RPC_METRICS.handlingSeconds}_count`, { grpc_method: "Publish" }), CONNECTIONS);
    assert.equal(sumOf(samples, BROKER_METRICS.ready), 2, "each worker reports itself ready");
  });

  it("logs one JSON line per lifecycle event from the primary and each worker", () => {
    const lines = gateway
      .stdout()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as { level: string; msg: string; pid: number; service: string });
    assert.ok(lines.every((line) => line.service === "broker-gateway" && typeof line.pid === "number"));
    assert.equal(lines.filter((line) => line.msg === "starting workers").length, 1);
    const workers = new Set(lines.filter((line) => line.msg === "gateway listening").map((line) => line.pid));
    assert.equal(workers.size, 2);
    assert.ok(lines.length <= 5, `no log line per call at info: ${lines.length} lines`);
  });

  it("drains and exits 0 on SIGTERM", async () => {
    assert.equal(await gateway.stop(), 0);
    assert.match(gateway.stdout(), /"msg":"stopped"/);
  });
});
