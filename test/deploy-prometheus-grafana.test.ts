import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { loadConfig } from "../gateway/src/config.js";
import { DEPLOY, exportedSeriesNames, promqlMetricNames, readYaml } from "./support/deploy.js";

const run = promisify(execFile);

/** promtool from Debian's prometheus package (.ci/run installs it); a missing binary fails the test. */
async function promtool(...args: string[]): Promise<string> {
  const { stdout, stderr } = await run("promtool", args, { cwd: DEPLOY });
  return stdout + stderr;
}

describe("Prometheus configuration, checked by promtool", () => {
  it("passes promtool check config, including its rule file", async () => {
    assert.match(await promtool("check", "config", "prometheus/prometheus.yml"), /SUCCESS: 1 rule files found/);
  });

  it("passes promtool check rules", async () => {
    assert.match(await promtool("check", "rules", "prometheus/alerts.yml"), /SUCCESS: \d+ rules found/);
  });

  it("passes the alert rules' unit tests (promtool test rules)", async () => {
    assert.match(await promtool("test", "rules", "prometheus/alerts.test.yml"), /SUCCESS/);
  });

  it("has an alert for error rate, latency, archiver lag and gateway down", () => {
    const alerts = readYaml("prometheus/alerts.yml").groups.flatMap((g: { rules: { alert: string }[] }) =>
      g.rules.map((r) => r.alert),
    );
    for (const name of [
      "BrokerHighErrorRate",
      "BrokerHighPublishLatency",
      "BrokerArchiverLagHigh",
      "BrokerGatewayDown",
    ]) {
      assert.ok(alerts.includes(name), `${name} in ${alerts.join(", ")}`);
    }
  });

  it("scrapes the gateway and the archiver on the metrics port the gateway really uses", () => {
    const { metricsPort } = loadConfig({});
    const jobs = readYaml("prometheus/prometheus.yml").scrape_configs as {
      job_name: string;
      static_configs: { targets: string[] }[];
    }[];
    const targets = (job: string) => jobs.find((j) => j.job_name === job)?.static_configs.flatMap((c) => c.targets);
    assert.deepEqual(targets("broker-gateway"), [`gateway:${metricsPort}`]);
    assert.deepEqual(targets("broker-archiver"), [`archiver:${metricsPort}`]);
  });
});

describe("Grafana dashboard and alert rules name only exported metrics", () => {
  const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, "grafana/dashboards/broker.json"), "utf8"));
  const queries: string[] = dashboard.panels.flatMap((panel: { targets?: { expr: string }[] }) =>
    (panel.targets ?? []).map((target) => target.expr),
  );

  it("reads a metric name out of PromQL the way the checks below rely on", () => {
    assert.deepEqual(
      promqlMetricNames(
        'histogram_quantile(0.99, sum by (le, grpc_method) (rate(a_bucket{x="y"}[$__rate_interval]))) / b',
      ),
      ["a_bucket", "b"],
    );
  });

  it("every dashboard query reads only series the gateway or archiver export", async () => {
    const exported = await exportedSeriesNames();
    assert.ok(queries.length >= 15);
    for (const expr of queries) {
      const names = promqlMetricNames(expr);
      assert.ok(names.length > 0, `no metric in ${expr}`);
      for (const name of names) assert.ok(exported.has(name), `${name} (in ${expr}) is not exported`);
    }
  });

  it("every alert expression reads only exported series", async () => {
    const exported = await exportedSeriesNames();
    for (const group of readYaml("prometheus/alerts.yml").groups) {
      for (const rule of group.rules as { alert: string; expr: string }[]) {
        for (const name of promqlMetricNames(rule.expr)) {
          assert.ok(exported.has(name), `${name} in alert ${rule.alert} is not exported`);
        }
      }
    }
  });

  it("shows publish and delivery rates, latency by method, errors by code, subscriptions, delivery and archiver lag", () => {
    const all = queries.join("\n");
    for (const needle of [
      "broker_messages_published_total",
      "broker_messages_delivered_total",
      "grpc_server_handling_seconds_bucket",
      "by (grpc_code",
      "broker_active_subscriptions",
      "broker_delivery_lag_seconds_bucket",
      "broker_archiver_lag_seconds",
    ]) {
      assert.ok(all.includes(needle), `a panel uses ${needle}`);
    }
  });

  it("is provisioned from the folder compose mounts, against the provisioned Prometheus datasource", () => {
    const provider = readYaml("grafana/provisioning/dashboards/dashboards.yml").providers[0];
    const compose = readYaml("compose.yaml");
    assert.ok(compose.services.grafana.volumes.includes(`./grafana/dashboards:${provider.options.path}:ro`));
    const datasource = readYaml("grafana/provisioning/datasources/datasources.yml").datasources.find(
      (d: { type: string }) => d.type === "prometheus",
    );
    assert.equal(datasource.url, "http://prometheus:9090");
    for (const panel of dashboard.panels) assert.equal(panel.datasource.uid, datasource.uid);
    assert.equal(new Set(dashboard.panels.map((p: { id: number }) => p.id)).size, dashboard.panels.length);
  });
});
