import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { Broker } from "../gateway/gen/broker/broker_pb.js";
import { loadConfig } from "../gateway/src/config.js";
import { DEPLOY, durationMs, readYaml, type Yaml } from "./support/deploy.js";
import { gatewayForSuite } from "./support/gateway.js";
import { grpcHealthCheck, httpStatus, ServingStatus } from "./support/health-client.js";

const defaults = loadConfig({});
const compose = readYaml("compose.yaml");
const envoy = readYaml("envoy/envoy.yaml");

describe("compose.yaml", () => {
  it("runs the whole stack", () => {
    for (const name of ["gateway", "archiver", "redis", "postgres", "envoy", "prometheus", "grafana", "jaeger"]) {
      assert.ok(compose.services[name], `service ${name}`);
    }
  });

  it("configures the gateway with settings the gateway's own config loader accepts, on its real ports", () => {
    const env = interpolate(compose.services.gateway.environment as Record<string, string>, {
      AUTH_JWT_SECRET: "stand-in-for-a-secret-of-at-least-32-bytes",
    });
    const config = loadConfig(env);
    assert.equal(config.grpcPort, defaults.grpcPort);
    assert.equal(config.httpPort, defaults.httpPort);
    assert.equal(config.metricsPort, defaults.metricsPort);
    assert.equal(config.redisUrl, "redis://redis:6379");
    assert.deepEqual(
      compose.services.gateway.expose,
      [defaults.grpcPort, defaults.httpPort, defaults.metricsPort].map(String),
    );
    const graceMs = durationMs(compose.services.gateway.stop_grace_period);
    assert.ok(graceMs > config.drainDelayMs + config.shutdownTimeoutMs, "stop_grace_period outlasts the drain");
  });

  it("runs the gateway with authentication on, its secret required from the environment and never committed", () => {
    const raw = compose.services.gateway.environment.AUTH_JWT_SECRET as string;
    assert.match(raw, /^\$\{AUTH_JWT_SECRET:\?.+\}$/, "compose refuses to start without AUTH_JWT_SECRET");
    assert.throws(() => interpolate({ AUTH_JWT_SECRET: raw }, {}), /set AUTH_JWT_SECRET/);
    const env = interpolate(compose.services.gateway.environment, { AUTH_JWT_SECRET: "x".repeat(40) });
    assert.equal(loadConfig(env).auth?.key.source, "AUTH_JWT_SECRET");
  });

  it("builds both app services from the one Dockerfile, the archiver with its own entry point", () => {
    const { gateway, archiver } = compose.services;
    assert.ok(existsSync(path.join(DEPLOY, gateway.build.context, gateway.build.dockerfile)));
    assert.equal(archiver.image, gateway.image);
    assert.deepEqual(archiver.command, ["dist/archiver/src/main.js"]);
    assert.match(archiver.environment.DATABASE_URL, /@postgres:5432\//);
    assert.equal(archiver.environment.HEALTHCHECK_URL, `http://127.0.0.1:${archiver.environment.METRICS_PORT}/metrics`);
  });

  it("keeps Redis's append-only file on", () => {
    const command = compose.services.redis.command as string[];
    assert.equal(command[command.indexOf("--appendonly") + 1], "yes");
  });

  it("sends traces to Jaeger's OTLP/HTTP port and publishes every UI", () => {
    for (const service of ["gateway", "archiver"]) {
      assert.equal(compose.services[service].environment.OTEL_EXPORTER_OTLP_ENDPOINT, "http://jaeger:4318");
    }
    assert.ok(compose.services.jaeger.expose.includes("4318"));
    const published = Object.values(compose.services).flatMap((s) => (s as { ports?: string[] }).ports ?? []);
    for (const port of ["8000:10000", "3000:3000", "9090:9090", "16686:16686"]) assert.ok(published.includes(port));
  });

  it("mounts only files that exist", () => {
    for (const [name, service] of Object.entries(compose.services) as [string, Yaml][]) {
      for (const volume of service.volumes ?? []) {
        const source = String(volume).split(":")[0] as string;
        if (source.startsWith(".")) assert.ok(existsSync(path.join(DEPLOY, source)), `${name} mounts ${source}`);
      }
    }
  });
});

/** Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` substitution, from `vars`. */
function interpolate(env: Record<string, string>, vars: Record<string, string>): Record<string, string> {
  const substitute = (value: string) =>
    value.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_all, name: string, kind?: string, text?: string) => {
      const found = vars[name];
      if (found) return found;
      if (kind === "?") throw new Error(text);
      return kind === "-" ? (text ?? "") : "";
    });
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, substitute(String(value))]));
}

interface Route {
  name: string;
  match: { prefix: string; grpc?: object };
  route: { cluster: string; timeout?: string; idle_timeout?: string };
  typed_per_filter_config?: Record<string, Yaml>;
}

const manager = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
const routes: Route[] = manager.route_config.virtual_hosts[0].routes;
const cluster = (name: string) => envoy.static_resources.clusters.find((c: { name: string }) => c.name === name);

/** Envoy's first-match route selection: path prefix, plus `grpc: {}` meaning content-type application/grpc[+...]. */
function routeFor(requestPath: string, contentType: string): Route {
  const isGrpc = contentType === "application/grpc" || contentType.startsWith("application/grpc+");
  const found = routes.find((r) => requestPath.startsWith(r.match.prefix) && (!r.match.grpc || isGrpc));
  assert.ok(found, `a route for ${requestPath} (${contentType})`);
  return found;
}

describe("envoy.yaml", () => {
  it("listens where compose publishes it", () => {
    const port = envoy.static_resources.listeners[0].address.socket_address.port_value;
    assert.ok(compose.services.envoy.ports.includes(`8000:${port}`));
    assert.equal(manager.codec_type, "AUTO", "HTTP/1.1 and HTTP/2 clients on one listener");
  });

  it("sends upstream traffic to the gateway's real gRPC and HTTP ports", () => {
    const endpoint = (name: string) =>
      cluster(name).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    assert.deepEqual(endpoint("gateway_grpc"), { address: "gateway", port_value: defaults.grpcPort });
    assert.deepEqual(endpoint("gateway_http"), { address: "gateway", port_value: defaults.httpPort });
  });

  it("routes native gRPC to the gRPC port and Connect / gRPC-Web to the HTTP port, for every broker method", () => {
    for (const method of Broker.methods) {
      const methodPath = `/${Broker.typeName}/${method.name}`;
      assert.equal(routeFor(methodPath, "application/grpc").route.cluster, "gateway_grpc");
      assert.equal(routeFor(methodPath, "application/grpc+proto").route.cluster, "gateway_grpc");
      assert.equal(routeFor(methodPath, "application/grpc-web+proto").route.cluster, "gateway_http");
      assert.equal(routeFor(methodPath, "application/proto").route.cluster, "gateway_http");
      assert.equal(routeFor(methodPath, "application/connect+json").route.cluster, "gateway_http");
    }
    assert.equal(routeFor("/readyz", "").route.cluster, "gateway_http");
    assert.equal(routeFor("/grpc.health.v1.Health/Check", "application/grpc").route.cluster, "gateway_grpc");
  });

  it("never times out Subscribe streams, on either port", () => {
    for (const contentType of ["application/grpc", "application/grpc-web+proto", "application/connect+proto"]) {
      const { route } = routeFor(`/${Broker.typeName}/Subscribe`, contentType);
      assert.equal(route.timeout, "0s");
      assert.equal(route.idle_timeout, "0s");
    }
    for (const name of ["gateway_grpc", "gateway_http"]) {
      const options =
        cluster(name).typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
      const http2 =
        options.explicit_http_config?.http2_protocol_options ??
        options.use_downstream_protocol_config.http2_protocol_options;
      assert.ok(http2.connection_keepalive.interval, `${name} pings upstream`);
    }
    assert.ok(manager.http2_protocol_options.connection_keepalive.interval, "pings downstream");
  });

  it("rate limits Publish, and only Publish, on both ports", () => {
    const filters = manager.http_filters.map((f: { name: string }) => f.name);
    assert.deepEqual(filters, ["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"]);
    for (const contentType of ["application/grpc", "application/grpc-web+proto", "application/proto"]) {
      const limit = routeFor(`/${Broker.typeName}/Publish`, contentType).typed_per_filter_config?.[
        "envoy.filters.http.local_ratelimit"
      ];
      assert.ok(limit.token_bucket.max_tokens > 0);
      assert.equal(limit.rate_limited_as_resource_exhausted, true);
      assert.equal(limit.filter_enforced.default_value.numerator, 100);
    }
    for (const method of ["Fetch", "Subscribe"]) {
      assert.equal(routeFor(`/${Broker.typeName}/${method}`, "application/grpc").typed_per_filter_config, undefined);
    }
  });

  it("passes the authorization header to the gateway: nothing removes it, and any CORS policy allows it", () => {
    const text = JSON.stringify(envoy);
    for (const [, removed] of text.matchAll(/"request_headers_to_remove":(\[[^\]]*\])/g)) {
      assert.ok(!/authorization/i.test(removed ?? ""), `Envoy removes ${removed}`);
    }
    for (const [, allowed] of text.matchAll(/"allow_headers":"([^"]*)"/g)) {
      assert.match(allowed ?? "", /\bauthorization\b/i, "a CORS policy must allow the authorization header");
    }
  });

  it("ejects outliers from both upstream clusters", () => {
    for (const name of ["gateway_grpc", "gateway_http"]) {
      assert.ok(cluster(name).outlier_detection.consecutive_5xx > 0);
    }
  });

  describe("health checks against a real gateway", () => {
    const suite = gatewayForSuite("redis");

    it("checks the gRPC upstream with a grpc.health.v1 service name the gateway reports SERVING", async () => {
      const check = cluster("gateway_grpc").health_checks[0].grpc_health_check;
      assert.equal(await grpcHealthCheck(suite.gateway.grpcPort, check.service_name), ServingStatus.SERVING);
    });

    it("checks the HTTP upstream on a path the gateway answers 200 while ready", async () => {
      const check = cluster("gateway_http").health_checks[0].http_health_check;
      assert.equal(check.path, "/readyz");
      assert.equal((await httpStatus(suite.gateway.httpPort, check.path)).status, 200);
    });
  });
});
