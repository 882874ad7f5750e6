import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { tracingEnabled } from "../gateway/src/process/tracing-env.js";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { eventually, freePort, ROOT, type RunningProcess, startNode } from "./support/node-process.js";
import { OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes } from "./support/streams.js";

const REGISTER = "./gateway/src/process/register-tracing.ts";

/** A W3C traceparent as a client's own tracer would send it. */
function clientTrace() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

describe("traces exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set", () => {
  const receiver = new OtlpReceiver();
  const prefix = uniquePrefix("traces");
  let gateway: RunningProcess;
  let ports: { grpcPort: number; httpPort: number };

  before(async () => {
    const otlpPort = await receiver.listen();
    ports = { grpcPort: await freePort(), httpPort: await freePort() };
    gateway = startNode(
      "gateway/src/main.ts",
      {
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        WORKERS: "1",
        HOST: "127.0.0.1",
        GRPC_PORT: String(ports.grpcPort),
        HTTP_PORT: String(ports.httpPort),
        METRICS_PORT: String(await freePort()),
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "50",
        OTEL_SERVICE_NAME: "broker-gateway-test",
      },
      [REGISTER],
    );
    await eventually("the gateway to listen", () =>
      gateway.stdout().includes("gateway listening") ? true : undefined,
    );
  });
  after(async () => {
    await gateway?.stop();
    await receiver.close();
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  async function publishTraced(
    route: Route,
  ): Promise<{ rpc: ReceivedSpan; children: ReceivedSpan[]; trace: ReturnType<typeof clientTrace> }> {
    const client: BrokerClient = brokerClient(ports, route);
    const trace = clientTrace();
    await client.publish(
      { subject: `traced-${route}`, body: bytes("hello"), expirationSeconds: 60 },
      { headers: { traceparent: trace.traceparent } },
    );
    const rpc = await eventually(`the Publish span of ${route}`, () =>
      receiver.spans.find((span) => span.traceId === trace.traceId && span.name === "broker.Broker/Publish"),
    );
    const children = await eventually(`child spans of ${route}'s Publish`, () => {
      const found = receiver.spans.filter((span) => span.parentSpanId === rpc.spanId);
      return found.length > 0 ? found : undefined;
    });
    return { rpc, children, trace };
  }

  for (const route of ["grpc", "connect"] as const) {
    it(`gives a Publish over ${route} an RPC span in the caller's trace with a Redis child span`, async () => {
      const { rpc, children, trace } = await publishTraced(route);
      assert.equal(rpc.parentSpanId, trace.spanId, "the caller's span is the RPC span's parent");
      assert.equal(rpc.kind, 2, "SERVER span");
      assert.equal(rpc.service, "broker-gateway-test");
      assert.equal(rpc.attributes["rpc.method"], "Publish");
      assert.equal(rpc.attributes["rpc.system"], route === "grpc" ? "grpc" : "connect_rpc");
      assert.equal(Number(rpc.attributes["rpc.grpc.status_code"]), 0);
      const redis = children.find(
        (span) => span.attributes["db.system"] === "redis" || span.attributes["db.system.name"] === "redis",
      );
      assert.ok(redis, `a Redis child span among ${JSON.stringify(children.map((c) => c.name))}`);
      assert.equal(redis.traceId, trace.traceId);
      assert.match(redis.name.toLowerCase(), /xadd/);
    });
  }

  it("marks a failed call's span with its status code", async () => {
    const client = brokerClient(ports, "connect");
    const trace = clientTrace();
    await assert.rejects(
      client.fetch({ subject: "traced-missing", id: 42n }, { headers: { traceparent: trace.traceparent } }),
    );
    const span = await eventually("the Fetch span", () =>
      receiver.spans.find((s) => s.traceId === trace.traceId && s.name === "broker.Broker/Fetch"),
    );
    assert.equal(Number(span.attributes["rpc.grpc.status_code"]), 3);
  });
});

describe("tracing is off unless the OTEL_* variables ask for it", () => {
  it("is on only with an OTLP endpoint or a traces exporter, and not when disabled", () => {
    assert.equal(tracingEnabled({}), false);
    assert.equal(tracingEnabled({ OTEL_SERVICE_NAME: "x" }), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318" }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://jaeger:4318/v1/traces" }), true);
    assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: "console" }), true);
    assert.equal(tracingEnabled({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" }), false);
    assert.equal(tracingEnabled({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" }), false);
  });

  async function tracerProviderWith(otel: Record<string, string>): Promise<string> {
    const probe = [
      'import { trace } from "@opentelemetry/api";',
      "console.log(trace.getTracerProvider().getDelegate().constructor.name);",
    ].join("\n");
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("OTEL_")));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--import", REGISTER, "--input-type=module", "-e", probe],
      { cwd: ROOT, env: { ...env, ...otel } },
    );
    return stdout.trim();
  }

  it("leaves OpenTelemetry's no-op tracer in place when the register file runs without them", async () => {
    assert.equal(await tracerProviderWith({}), "NoopTracerProvider");
    assert.notEqual(await tracerProviderWith({ OTEL_TRACES_EXPORTER: "console" }), "NoopTracerProvider");
  });
});
