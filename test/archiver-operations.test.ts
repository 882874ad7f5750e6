import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { ARCHIVER_METRICS } from "../gateway/src/process/metric-names.js";
import { ArchiverProcess, createDatabase, eventually, PrivatePostgres, query } from "./support/archive.js";
import { DEPLOY, promqlMetricNames, readYaml } from "./support/deploy.js";
import { familyNames, parseMetrics, type Sample, sumOf } from "./support/metrics.js";
import { eventually as eventuallyDefined, freePort, type RunningProcess, startNode } from "./support/node-process.js";
import { OtlpReceiver } from "./support/otlp-receiver.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { sleep } from "./support/streams.js";

const LAG = ARCHIVER_METRICS.lagSeconds;
const ROWS = ARCHIVER_METRICS.rowsArchived;
const BATCH_COUNT = `${ARCHIVER_METRICS.batchRows}_count`;

async function scrapeText(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}
const scrape = async (port: number): Promise<Sample[]> => parseMetrics(await scrapeText(port));

/** Waits until the archiver at `port` reports a lag above 0 seconds; returns it. */
const lagAboveZero = (port: number): Promise<number> =>
  eventually(
    async () => {
      const lag = sumOf(await scrape(port), LAG);
      return lag > 0 ? lag : undefined;
    },
    10_000,
    "for a lag above 0",
  );

/** `count` messages on `subject` that will be archived (an expiry in the future). */
async function publish(engine: RedisEngine, subject: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await engine.append(subject, Buffer.from(`${subject}#${i}`), Date.now() + 600_000);
}

describe("the archiver process's operations support", () => {
  let prefix: string;
  let engine: RedisEngine;
  const cleanups: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    prefix = uniquePrefix("archiver-ops");
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: REDIS_URL, keyPrefix: prefix });
    await engine.ready();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await engine.close();
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  /** The archiver as a child process with its /metrics on a free loopback port. */
  async function spawnArchiver(databaseUrl: string): Promise<{ child: ArchiverProcess; metricsPort: number }> {
    const metricsPort = await freePort();
    const child = new ArchiverProcess({
      REDIS_URL,
      DATABASE_URL: databaseUrl,
      REDIS_KEY_PREFIX: prefix,
      METRICS_PORT: String(metricsPort),
      HOST: "127.0.0.1",
      ARCHIVE_BATCH_SIZE: "50",
      ARCHIVE_MAX_BACKOFF_MS: "200",
    });
    cleanups.push(() => child.stop());
    await eventually(() => scrapeText(metricsPort), 20_000, "for the archiver's /metrics");
    return { child, metricsPort };
  }

  it("counts every archived row once, observes batch sizes, and reports lag 0 when caught up", async () => {
    const database = await createDatabase();
    cleanups.push(database.drop);
    const { metricsPort } = await spawnArchiver(database.url);
    const total = 120; // 3 batches of ARCHIVE_BATCH_SIZE=50 or more
    await publish(engine, "counted", total);
    const samples = await eventually(
      async () => {
        const s = await scrape(metricsPort);
        return sumOf(s, ROWS) >= total && sumOf(s, LAG) === 0 ? s : undefined;
      },
      20_000,
      "for every row archived and the lag back at 0",
    );
    assert.equal(sumOf(samples, ROWS), total, "rows_archived_total is the rows inserted, none twice");
    const inPostgres = await query<{ n: string }>(database.url, "SELECT count(*) AS n FROM broker_messages");
    assert.equal(Number(inPostgres[0]?.n), total);
    assert.ok(sumOf(samples, BATCH_COUNT) >= 3, "one batch_rows observation per committed batch");
    assert.equal(sumOf(samples, `${ARCHIVER_METRICS.batchRows}_sum`), total);
    assert.equal(sumOf(samples, LAG), 0);
  });

  it("counts each row in one archiver's metrics when two share the work, and both read lag 0 once caught up", async () => {
    const database = await createDatabase();
    cleanups.push(database.drop);
    const archivers = [await spawnArchiver(database.url), await spawnArchiver(database.url)];
    const subjects = ["s1", "s2", "s3", "s4"];
    const perSubject = 60;
    await Promise.all(subjects.map((subject) => publish(engine, subject, perSubject)));
    const total = subjects.length * perSubject;
    const rowsOf = (samples: Sample[][]) => samples.reduce((sum, s) => sum + sumOf(s, ROWS), 0);
    const samples = await eventually(
      async () => {
        const s = await Promise.all(archivers.map((a) => scrape(a.metricsPort)));
        return rowsOf(s) >= total && s.every((one) => sumOf(one, LAG) === 0) ? s : undefined;
      },
      20_000,
      "for every row archived and both lags at 0",
    );
    assert.equal(rowsOf(samples), total, "the two counters add up to the rows archived, none twice");
  });

  it("reports a growing lag while PostgreSQL is down mid-run, and 0 again once it has caught up", async () => {
    const postgres = await PrivatePostgres.start();
    cleanups.push(() => postgres.destroy());
    const { metricsPort } = await spawnArchiver(postgres.url);
    await publish(engine, "outage", 10);
    await eventually(async () => sumOf(await scrape(metricsPort), ROWS) === 10, 20_000, "for the first rows");

    await postgres.pause();
    await publish(engine, "outage", 5);
    const first = await lagAboveZero(metricsPort);
    await sleep(600);
    const later = sumOf(await scrape(metricsPort), LAG);
    assert.ok(later >= first + 0.5, `the lag grows while PostgreSQL is down (${first} s, then ${later} s)`);
    assert.equal(sumOf(await scrape(metricsPort), ROWS), 10, "nothing counted as archived during the outage");

    await postgres.resume();
    const samples = await eventually(
      async () => {
        const s = await scrape(metricsPort);
        return sumOf(s, ROWS) === 15 && sumOf(s, LAG) === 0 ? s : undefined;
      },
      20_000,
      "for the backlog archived and the lag back at 0",
    );
    assert.equal(sumOf(samples, ROWS), 15);
  });

  it("reports a growing lag when PostgreSQL is unreachable from the start", async () => {
    await publish(engine, "never-archived", 3);
    const closedPort = await freePort();
    const { child, metricsPort } = await spawnArchiver(`postgres://postgres@127.0.0.1:${closedPort}/postgres`);
    const first = await lagAboveZero(metricsPort);
    await sleep(600);
    const later = sumOf(await scrape(metricsPort), LAG);
    assert.ok(later >= first + 0.5, `the lag grows (${first} s, then ${later} s)`);
    assert.ok(
      child.lines.some((line) => line.level === "warn" && line.msg === "archiver pass failed; retrying"),
      "the failures are logged as pino JSON lines",
    );
    assert.ok(child.lines.every((line) => line.service === "broker-archiver" && typeof line.time === "string"));
  });

  it("exports every archiver metric the Grafana dashboard and the alert rules read", async () => {
    const database = await createDatabase();
    cleanups.push(database.drop);
    const { metricsPort } = await spawnArchiver(database.url);
    const families = familyNames(await scrapeText(metricsPort));
    const exported = new Set<string>();
    for (const name of families) for (const suffix of ["", "_bucket", "_sum", "_count"]) exported.add(name + suffix);
    const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, "grafana/dashboards/broker.json"), "utf8"));
    const expressions: string[] = [
      ...dashboard.panels.flatMap((panel: { targets?: { expr: string }[] }) =>
        (panel.targets ?? []).map((t) => t.expr),
      ),
      ...readYaml("prometheus/alerts.yml").groups.flatMap((group: { rules: { expr: string }[] }) =>
        group.rules.map((rule) => rule.expr),
      ),
    ];
    const used = new Set(expressions.flatMap(promqlMetricNames).filter((name) => name.startsWith("broker_archiver_")));
    assert.ok(used.size >= 3, `the dashboard and alerts use the archiver's metrics: ${[...used].join(", ")}`);
    for (const name of used) assert.ok(exported.has(name), `${name} is served by the archiver process`);
  });
});

describe("the archiver's traces when OTEL_EXPORTER_OTLP_ENDPOINT is set", () => {
  const receiver = new OtlpReceiver();
  const prefix = uniquePrefix("archiver-traces");
  let engine: RedisEngine;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let archiver: RunningProcess;

  before(async () => {
    const otlpPort = await receiver.listen();
    database = await createDatabase();
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: REDIS_URL, keyPrefix: prefix });
    await engine.ready();
    archiver = startNode(
      "archiver/src/main.ts",
      {
        REDIS_URL,
        DATABASE_URL: database.url,
        REDIS_KEY_PREFIX: prefix,
        METRICS_PORT: "0",
        HOST: "127.0.0.1",
        ARCHIVE_IDLE_MS: "20",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_BSP_SCHEDULE_DELAY: "50",
        OTEL_SERVICE_NAME: "",
      },
      ["./archiver/src/register-tracing.ts"],
    );
  });

  after(async () => {
    await archiver?.stop();
    await receiver.close();
    await engine.close();
    await deleteGatewayKeys(REDIS_URL, prefix);
    await database.drop();
  });

  it("gives each batch a span named archiver.batch, service broker-archiver, with PostgreSQL child spans", async () => {
    await eventuallyDefined("the archiver to be ready", () =>
      archiver.stdout().includes("archiver ready") ? true : undefined,
    );
    await publish(engine, "traced", 5);
    const batch = await eventuallyDefined("an archiver.batch span", () =>
      receiver.spans.find((span) => span.name === "archiver.batch"),
    );
    assert.equal(batch.service, "broker-archiver", "the register file names the service");
    assert.equal(batch.parentSpanId || undefined, undefined, "a batch is a root span");
    const children = await eventuallyDefined("the batch's child spans", () => {
      const found = receiver.spans.filter((span) => span.parentSpanId === batch.spanId);
      return found.some((span) => /INSERT|COPY/i.test(String(span.attributes["db.statement"] ?? span.name)))
        ? found
        : undefined;
    });
    assert.ok(
      children.every((span) => span.traceId === batch.traceId),
      "the pg spans are in the batch's trace",
    );
  });
});
