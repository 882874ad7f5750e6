import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ArchiverMetrics } from "../archiver/src/metrics.js";
import { Broker } from "../gateway/src/core/broker.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "../gateway/src/core/subscription.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "../gateway/src/engines/memory/memory-engine.js";
import { GatewayMetrics } from "../gateway/src/observability/gateway-metrics.js";
import { ARCHIVER_METRICS, BROKER_METRICS, RPC_METRICS } from "../gateway/src/process/metric-names.js";
import { type MetricsServer, registrySource, serveMetrics } from "../gateway/src/process/metrics-server.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { parseMetrics, type Sample, scrape, sumOf } from "./support/metrics.js";
import { eventually } from "./support/node-process.js";
import { bytes, subscribeLive } from "./support/streams.js";

const rpc = (method: string, transport: string, extra: Record<string, string> = {}) => ({
  grpc_service: "broker.Broker",
  grpc_method: method,
  transport,
  ...extra,
});

describe("/metrics after real traffic on the Redis engine", () => {
  let stop: () => Promise<void>;
  let metricsServer: MetricsServer;
  let ports: { grpcPort: number; httpPort: number };
  let samples: Sample[];
  let rawText: string;
  const subject = `metrics-${Date.now()}`;

  before(async () => {
    const started = await startGateway("redis");
    stop = started.stop;
    ports = started.gateway;
    metricsServer = await serveMetrics(registrySource(started.gateway.metrics.registry), 0, "127.0.0.1");

    const grpc = brokerClient(ports, "grpc");
    const connect = brokerClient(ports, "connect");
    const subscription = await subscribeLive(grpc, subject);
    const webSubscription = await subscribeLive(brokerClient(ports, "grpc-web"), subject);
    for (let i = 0; i < 3; i++) await grpc.publish({ subject, body: bytes(`g${i}`), expirationSeconds: 60 });
    for (let i = 0; i < 2; i++) await connect.publish({ subject, body: bytes(`c${i}`), expirationSeconds: 60 });
    await grpc.fetch({ subject, id: 1n });
    await connect.fetch({ subject, id: 2n });
    await assert.rejects(
      connect.fetch({ subject, id: 999n }),
      (err) => ConnectError.from(err).code === Code.InvalidArgument,
    );
    await assert.rejects(grpc.publish({ subject: "", body: bytes("x"), expirationSeconds: 0 }));
    await subscription.waitFor(5);
    await webSubscription.waitFor(5);
    const open = await scrape(metricsServer.port);
    assert.equal(sumOf(open, BROKER_METRICS.activeSubscriptions), 2, "two open Subscribe streams");
    assert.equal(sumOf(open, BROKER_METRICS.subscribedSubjects), 1, "both on one subject");
    subscription.close();
    webSubscription.close();
    await Promise.all([subscription.finished, webSubscription.finished]);
    // The server notices the cancellations asynchronously.
    samples = await eventually("both Subscribe calls to be handled", async () => {
      const current = await scrape(metricsServer.port);
      return sumOf(current, RPC_METRICS.handled, { grpc_method: "Subscribe" }) === 2 ? current : undefined;
    });
    rawText = await (await fetch(`http://127.0.0.1:${metricsServer.port}/metrics`)).text();
  });
  after(async () => {
    await metricsServer?.close();
    await stop?.();
  });

  it("counts started and handled calls per method, code and transport, equal to the calls made", () => {
    assert.equal(sumOf(samples, RPC_METRICS.started, rpc("Publish", "grpc")), 4);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Publish", "grpc", { grpc_code: "OK" })), 3);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Publish", "grpc", { grpc_code: "InvalidArgument" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.started, rpc("Publish", "connect")), 2);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Publish", "connect", { grpc_code: "OK" })), 2);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Fetch", "grpc", { grpc_code: "OK" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Fetch", "connect", { grpc_code: "OK" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Fetch", "connect", { grpc_code: "InvalidArgument" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.handled, { grpc_type: "unary" }), 9);
  });

  it("times every handled call and labels the RPC type", () => {
    assert.equal(sumOf(samples, `${RPC_METRICS.handlingSeconds}_count`, rpc("Publish", "grpc")), 4);
    assert.equal(sumOf(samples, `${RPC_METRICS.handlingSeconds}_count`, rpc("Fetch", "connect")), 2);
    assert.ok(sumOf(samples, `${RPC_METRICS.handlingSeconds}_sum`, rpc("Publish", "grpc")) > 0);
    assert.equal(sumOf(samples, RPC_METRICS.started, { grpc_method: "Subscribe", grpc_type: "server_stream" }), 2);
  });

  it("counts stream messages sent and records cancelled Subscribe streams as Canceled", () => {
    assert.equal(sumOf(samples, RPC_METRICS.msgSent, rpc("Subscribe", "grpc")), 5);
    assert.equal(sumOf(samples, RPC_METRICS.msgSent, rpc("Subscribe", "connect")), 5);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Subscribe", "grpc", { grpc_code: "Canceled" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.handled, rpc("Subscribe", "connect", { grpc_code: "Canceled" })), 1);
    assert.equal(sumOf(samples, RPC_METRICS.msgReceived, rpc("Publish", "connect")), 2);
  });

  it("counts messages published and delivered, with a delivery lag per delivery", () => {
    assert.equal(sumOf(samples, BROKER_METRICS.published), 5);
    assert.equal(sumOf(samples, BROKER_METRICS.delivered), 10);
    assert.equal(sumOf(samples, `${BROKER_METRICS.deliveryLagSeconds}_count`), 10);
    const lag = sumOf(samples, `${BROKER_METRICS.deliveryLagSeconds}_sum`) / 10;
    assert.ok(lag >= 0 && lag < 5, `mean delivery lag ${lag}s is plausible`);
    assert.equal(sumOf(samples, BROKER_METRICS.activeSubscriptions), 0);
    assert.equal(sumOf(samples, BROKER_METRICS.subscribedSubjects), 0);
    assert.equal(sumOf(samples, BROKER_METRICS.slowSubscriberTerminations), 0);
  });

  it("times Redis commands by command name and reports readiness and process metrics", () => {
    assert.equal(sumOf(samples, `${BROKER_METRICS.redisCommandSeconds}_count`, { command: "xadd" }), 5);
    assert.ok(sumOf(samples, `${BROKER_METRICS.redisCommandSeconds}_count`, { command: "xrange" }) >= 3);
    assert.equal(
      sumOf(samples, BROKER_METRICS.redisCommandErrors),
      0,
      JSON.stringify(samples.filter((s) => s.name === BROKER_METRICS.redisCommandErrors)),
    );
    assert.equal(sumOf(samples, BROKER_METRICS.ready), 1);
    assert.ok(sumOf(samples, "process_resident_memory_bytes") > 0);
  });

  it("never puts a subject into a label", () => {
    assert.ok(!rawText.includes(subject), "the subject appears nowhere in /metrics");
    const commands = new Set(
      samples.filter((s) => s.name.startsWith(BROKER_METRICS.redisCommandSeconds)).map((s) => s.labels.command),
    );
    assert.ok(commands.size <= 12, `a small fixed set of command labels: ${[...commands].join(", ")}`);
  });

  it("serves only /metrics on the metrics port", async () => {
    const response = await fetch(`http://127.0.0.1:${metricsServer.port}/`);
    assert.equal(response.status, 404);
  });
});

describe("the archiver's metrics module", () => {
  it("serves the archiver metric names the dashboard and alerts use, with the values set", async () => {
    const metrics = new ArchiverMetrics();
    const server = await serveMetrics(registrySource(metrics.registry), 0, "127.0.0.1");
    try {
      metrics.lagSeconds.set(12);
      metrics.batchRows.observe(500);
      metrics.rowsArchived.inc(500);
      const samples = await scrape(server.port);
      assert.equal(sumOf(samples, ARCHIVER_METRICS.lagSeconds), 12);
      assert.equal(sumOf(samples, `${ARCHIVER_METRICS.batchRows}_count`), 1);
      assert.equal(sumOf(samples, ARCHIVER_METRICS.rowsArchived), 500);
    } finally {
      await server.close();
    }
  });
});

describe("slow-subscriber metrics from the broker core", () => {
  it("counts a subscriber that falls behind, and its termination once retention has passed it", async () => {
    const metrics = new GatewayMetrics({ defaultMetrics: false });
    const engine = new MemoryEngine({ ...DEFAULT_MEMORY_OPTIONS, maxMessagesPerSubject: 10 });
    const broker = new Broker(engine, {
      observer: metrics.brokerObserver,
      subscriptions: { ...DEFAULT_SUBSCRIPTION_OPTIONS, maxBufferedMessages: 5 },
    });
    try {
      const subscription = await broker.subscribe("slow");
      // The client reads nothing while 30 messages arrive: 5 fit its buffer, retention keeps the last 10.
      for (let i = 0; i < 30; i++)
        await broker.publish({ subject: "slow", body: bytes(`m${i}`), expirationSeconds: 60 });
      for (let i = 0; i < 5; i++) assert.equal((await subscription.next()).value?.id, i + 1);
      await assert.rejects(subscription.next(), /fell behind retention/);
      const samples = parseMetrics(await metrics.registry.metrics());
      assert.equal(sumOf(samples, BROKER_METRICS.subscriberFellBehind), 1);
      assert.equal(sumOf(samples, BROKER_METRICS.slowSubscriberTerminations), 1);
      assert.equal(sumOf(samples, BROKER_METRICS.delivered), 5);
      assert.equal(sumOf(samples, BROKER_METRICS.published), 30);
    } finally {
      await broker.close(0);
    }
  });
});
