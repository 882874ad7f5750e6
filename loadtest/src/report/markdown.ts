import { writeFileSync } from "node:fs";
import path from "node:path";
import type { ScenarioResult } from "../results.js";
import { baselineOf, type TargetCheck } from "../targets.js";
import { sideBySidePlots, sideBySideTable } from "./side-by-side.js";
import { type BarChart, type BarGroup, renderBarChart } from "./svg.js";

export interface BenchRun {
  readonly startedAt: string;
  readonly smoke: boolean;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel?: string;
    readonly node: string;
    readonly pinned: boolean;
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  readonly results: readonly ScenarioResult[];
  readonly targets: readonly TargetCheck[];
  /** Issue 18's targets, against JetStream in the same run (when the side-by-side scenarios ran). */
  readonly peerTargets?: readonly TargetCheck[];
}

const n = (value: number | undefined, digits = 0) =>
  value === undefined
    ? "–"
    : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function groupsFor(
  results: readonly ScenarioResult[],
  scenarios: readonly string[],
  value: (r: ScenarioResult) => number | undefined,
): BarGroup[] {
  return scenarios
    .map((scenario) => ({
      label: scenario,
      bars: results
        .filter((r) => r.scenario === scenario && r.status === "ok")
        .flatMap((r) => {
          const v = value(r);
          return v === undefined ? [] : [{ label: r.target, value: v }];
        }),
    }))
    .filter((g) => g.bars.length > 0);
}

/** The chart, or undefined when no result gave it a bar (e.g. `--only nats`). */
function chartIfAny(chart: BarChart): string | undefined {
  return chart.groups.length > 0 ? renderBarChart(chart) : undefined;
}

/** What the side-by-side section ran, in words (loadtest/src/scenarios/peers.ts). */
const PEER_METHOD = [
  "One run, one load-client process (pinned to the client core), against servers started for the run and pinned to",
  "the server core: one gateway worker (`WORKERS=1`, Redis engine, `REDIS_MAXLEN=200000`) on a private redis-server",
  "(no persistence), and a private nats-server (JetStream) whose streams use memory or file storage; one stream per",
  "subject on both (a Redis stream / a JetStream stream with one replica, the oldest dropped past 200,000 messages).",
  "Server CPU is `utime + stime` from `/proc/<pid>/stat` before and after: gateway **plus** its redis-server, against",
  "nats-server. Each scenario runs every system interleaved (gateway, JetStream memory, JetStream file, raw Redis, then",
  "again, round after round) with the same bodies and in-flight concurrency:",
  "",
  "- **publish**: unary publish with ack, closed loop, 128 in flight over 4 connections (gateway: @grpc/grpc-js; JetStream:",
  "  `js.publish`); the gateway with the bench's lean HTTP/2 client rides along to measure that client's cost.",
  "- **batch**: batches of 100, 8 in flight over 2 connections: gateway PublishBatch vs JetStream async publish (100",
  "  `js.publish` sent at once, acks awaited together) vs 100 pipelined XADDs.",
  "- **e2e**: one subscriber, constant 2,000 msg/s (metronome-timed, latency from each message's due time, so no",
  "  coordinated omission); gateway Subscribe vs a JetStream ordered consumer vs a blocking XREAD loop.",
  "- **fan-out**: one subject to 100 subscribers at 1,000 msg/s and to 1,000 subscribers at 100 msg/s (both 100,000",
  "  deliveries/s; 1,000 × 1,000/s would be 10⁶ deliveries/s, ten times what the one load-client core takes), 100 B bodies,",
  "  100 subscriptions per connection; every subscriber must get every message once, in order.",
  "- **replay**: 100,000 stored messages read back by one subscriber from the first id (gateway Subscribe with",
  "  `resume_after_id`, JetStream ordered consumer from a start sequence, XREAD COUNT 1000 loop), timed from the",
  "  subscribe call to the last message; the latency columns are time to the first message.",
  "- **JetStream memory, core-NATS subscribers** (e2e, fan-out): JetStream stores each publish, plain NATS subscriptions",
  "  receive it: what a NATS user runs for live fan-out (no replay or gap detection; order checked on the publisher's sequence).",
  "- **floors** under the gateway: raw Redis (its storage commands sent straight from the client to the same Redis) and",
  "  the no-op gRPC server (the gateway's service definition doing no work; it relays publishes to its subscribers).",
  "",
  "",
  "Durations (loadtest/src/scenarios/peers.ts): publish and batch 3 rounds of 1 s per system after a 0.5 s warm-up;",
  "e2e 1.5 s warm-up, then 3 rounds of 1.5 s (9,000 messages per system); fan-out 1.5 s warm-up, then 3 rounds of",
  "1.5 s; replay 2 rounds of 100,000 messages. A message acknowledged to its publisher that a subscriber never",
  "receives fails the scenario, as does a publish error (a JetStream publish times out after 5 s).",
  "",
  "Ratios are gateway ÷ JetStream: below 1 is better for latency and CPU, above 1 for throughput.",
];

/** Writes the SVG plots and report.md into `dir`. */
export function writeReport(dir: string, run: BenchRun): void {
  const { results } = run;
  // The raw baselines are plotted beside the scenario they bound.
  const asScenario = (r: ScenarioResult, scenario: string): ScenarioResult => ({ ...r, scenario });
  const withBaselines = [
    ...results,
    ...results.filter((r) => r.scenario === "raw-xadd").map((r) => asScenario(r, "batch-publish")),
    ...results
      .filter((r) => r.scenario === "raw-insert" || r.scenario === "raw-insert-no-expiry-index")
      .map((r) => ({
        ...asScenario(r, "archiver"),
        target: r.scenario === "raw-insert" ? `${r.target} COPY` : `${r.target} COPY, no expiry index`,
      })),
  ];
  const plots: [file: string, svg: string | undefined][] = [
    [
      "throughput.svg",
      chartIfAny({
        title: "Throughput by engine, beside its baseline",
        unit: "operations (messages) per second",
        groups: groupsFor(withBaselines, ["publish", "hot-fetch", "batch-publish", "archiver"], (r) => r.throughput),
      }),
    ],
    [
      "server-cpu.svg",
      chartIfAny({
        title: "Server CPU per operation",
        unit: "µs of CPU (user + system) per call / message / delivery",
        groups: groupsFor(
          results,
          ["publish", "hot-fetch", "batch-publish", "e2e-delivery", "fan-out"],
          (r) => r.serverCpuUsPerOp,
        ),
      }),
    ],
    [
      "latency.svg",
      chartIfAny({
        title: "Latency p99",
        unit: "milliseconds",
        groups: groupsFor(
          results,
          ["publish", "hot-fetch", "e2e-delivery", "fan-out", "archived-fetch"],
          (r) => r.latency?.p99,
        ),
      }),
    ],
    [
      "idle-memory.svg",
      chartIfAny({
        title: "Idle subscriptions: gateway RSS",
        unit: "MiB",
        groups: groupsFor(results, ["idle-subscribers"], (r) => r.extra?.rssMiB as number | undefined),
      }),
    ],
  ];
  const peerPlots = sideBySidePlots(results);
  const drawn = new Set<string>();
  for (const [file, svg] of [...plots, ...peerPlots]) {
    if (svg === undefined) continue;
    writeFileSync(path.join(dir, file), svg);
    drawn.add(file);
  }
  const plot = (file: string, alt: string) => (drawn.has(file) ? [`![${alt}](${file})`, ""] : []);

  const lines: string[] = [];
  lines.push(`# Benchmark report${run.smoke ? " (smoke run: correctness only, figures meaningless)" : ""}`, "");
  lines.push(
    `Run ${run.startedAt} on ${run.machine.cpus} cores${run.machine.cpuModel ? ` (${run.machine.cpuModel})` : ""}, Node ${run.machine.node}, 1-minute load average ` +
      `${run.machine.loadAverage.start.toFixed(1)} at the start and ${run.machine.loadAverage.end.toFixed(1)} at the end; ` +
      (run.machine.pinned
        ? "servers pinned to one core and the load client to the other (taskset). "
        : "taskset unavailable: nothing pinned. ") +
      "Redis and PostgreSQL are the machine's shared services (not pinned), except in the side-by-side section, whose " +
      "gateway has a private Redis pinned with the servers. Figures from one run on a shared machine: " +
      "trust the ratios to the baselines measured in the same run more than the absolute numbers.",
    "",
  );
  const targetTable = (title: string, checks: readonly TargetCheck[]) => {
    lines.push(title, "", "| target | measured | met |", "|---|---|---|");
    for (const t of checks)
      lines.push(
        `| ${t.target} | ${t.measured} | ${t.met === undefined ? "not measured" : t.met ? "yes" : "**no**"} |`,
      );
    lines.push("");
  };
  if (run.targets.some((t) => t.met !== undefined)) targetTable("## Targets (issue 6)", run.targets);
  const sideBySide = sideBySideTable(results);
  if (sideBySide) {
    lines.push("## Side by side with NATS JetStream (issue 18)", "", ...PEER_METHOD, "");
    if (results.every((r) => r.scenario.startsWith("peer-"))) {
      lines.push("This run: the side-by-side scenarios alone (`npm run bench -- --only nats`).", "");
    }
    if (run.peerTargets?.length) targetTable("### Targets (issue 18)", run.peerTargets);
    lines.push("### Figures", "", sideBySide, "");
    for (const [file] of peerPlots) lines.push(`![${file}](${file})`, "");
    const clients = results.filter((r) => r.scenario.startsWith("peer-publish") && r.extra?.clientCpuUsPerOp);
    if (clients.length > 0) {
      lines.push(
        "### Load client CPU per publish",
        "",
        "The load client's own CPU (`process.cpuUsage`) per acknowledged publish, and its share of its core.",
        "",
        "| scenario | system (client) | client CPU µs/publish | client core share |",
        "|---|---|---|---|",
      );
      for (const r of clients) {
        const client = r.target.includes("lean h2")
          ? "lean h2 (loadtest/src/h2)"
          : r.target.startsWith("JetStream")
            ? "@nats-io/jetstream"
            : r.target.startsWith("raw Redis")
              ? "ioredis"
              : "@grpc/grpc-js";
        lines.push(
          `| ${r.scenario} | ${r.target} (${client}) | ${n(r.extra?.clientCpuUsPerOp as number, 1)} | ${n(r.extra?.clientCpuShare as number, 2)} |`,
        );
      }
      lines.push("");
    }
  }
  lines.push("## Throughput", "", ...plot("throughput.svg", "throughput"));
  lines.push(
    "| scenario | target | status | throughput | vs baseline | server CPU / op | p50 ms | p99 ms | p99.9 ms | max ms | errors |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of results) {
    const base = baselineOf(results, r);
    const ratio =
      base && base !== r && r.throughput !== undefined && base.throughput
        ? `${(r.throughput / base.throughput).toFixed(2)}× ${base.target}`
        : "";
    lines.push(
      `| ${r.scenario} | ${r.target} | ${r.status} | ${r.throughput === undefined ? "–" : `${n(r.throughput)} ${r.unit ?? ""}`} | ${ratio} | ${r.serverCpuUsPerOp === undefined ? "–" : `${n(r.serverCpuUsPerOp, 1)} µs`} | ${n(r.latency?.p50, 2)} | ${n(r.latency?.p99, 2)} | ${n(r.latency?.p999, 2)} | ${n(r.latency?.max, 2)} | ${r.errors ?? 0} |`,
    );
  }
  if (drawn.has("server-cpu.svg"))
    lines.push("", "## Server CPU per operation", "", ...plot("server-cpu.svg", "server CPU"));
  if (drawn.has("latency.svg")) lines.push("## Latency", "", ...plot("latency.svg", "latency"));
  const delivery = results.filter((r) => r.scenario === "e2e-delivery" || r.scenario === "fan-out");
  if (delivery.length > 0) {
    lines.push(
      "Delivery latency is the subscriber's receive time minus the due time the publisher wrote into the body.",
      "",
      "The publish ack p99 is the publisher's own call latency; the load client's CPU share near 1.0 would mean",
      "the client, not the gateway, limited the run. Server GC is the server process's garbage-collection pause",
      "time per second of the run and its pauses longer than 10 ms (prom-client's GC histogram, read before and after).",
      "",
      "| scenario | engine | subscribers | rate msg/s | deliveries/s | p50 | p90 | p99 | p99.9 | max | lost | publish ack p99 | load client CPU | server GC ms/s | GC pauses > 10 ms |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    );
    for (const r of delivery) {
      lines.push(
        `| ${r.scenario} | ${r.target} | ${r.extra?.subscribers ?? ""} | ${r.extra?.ratePerSecond ?? ""} | ${n(r.throughput)} | ${n(r.latency?.p50, 2)} | ${n(r.latency?.p90, 2)} | ${n(r.latency?.p99, 2)} | ${n(r.latency?.p999, 2)} | ${n(r.latency?.max, 2)} | ${r.lost ?? "–"} | ${n(r.extra?.publishAckP99Ms as number | undefined, 2)} | ${n(r.extra?.clientCpuShare as number | undefined, 2)} | ${n(r.extra?.serverGcMsPerS as number | undefined, 1)} | ${n(r.extra?.serverGcPausesOver10ms as number | undefined)} |`,
      );
    }
    lines.push("");
  }
  const archived = results.filter((r) => r.scenario === "archived-fetch");
  if (archived.length > 0) {
    lines.push(
      "## Archived Fetch and its floors",
      "",
      "The same rate of Fetches of ids Redis has trimmed: through the gateway, answered by the no-op server, and the",
      "archive's point lookup sent straight to PostgreSQL. Server GC as in the delivery table.",
      "",
      "| target | fetches/s | p50 | p99 | p99.9 | max | server CPU / op | server GC ms/s | GC pauses > 10 ms |",
      "|---|---|---|---|---|---|---|---|---|",
    );
    for (const r of archived) {
      lines.push(
        `| ${r.target} | ${n(r.throughput)} | ${n(r.latency?.p50, 2)} | ${n(r.latency?.p99, 2)} | ${n(r.latency?.p999, 2)} | ${n(r.latency?.max, 2)} | ${r.serverCpuUsPerOp === undefined ? "–" : `${n(r.serverCpuUsPerOp, 1)} µs`} | ${n(r.extra?.serverGcMsPerS as number | undefined, 1)} | ${n(r.extra?.serverGcPausesOver10ms as number | undefined)} |`,
      );
    }
    lines.push("");
  }
  const idle = results.filter((r) => r.scenario === "idle-subscribers" && r.extra);
  if (idle.length > 0) {
    lines.push("## Idle subscriptions", "", ...plot("idle-memory.svg", "idle memory"));
    lines.push(
      "| engine | subscriptions | subjects | RSS before | RSS after | per subscription | Redis connections | lost |",
      "|---|---|---|---|---|---|---|---|",
    );
    for (const r of idle) {
      const e = r.extra ?? {};
      lines.push(
        `| ${r.target} | ${e.subscriptions} | ${e.subjects} | ${n(e.rssBeforeMiB as number, 0)} MiB | ${n(e.rssMiB as number, 0)} MiB | ${n(e.rssPerSubscriptionKiB as number, 1)} KiB | ${e.redisConnections} | ${r.lost ?? "–"} |`,
      );
    }
    lines.push("");
  }
  const notes = results.filter((r) => r.note);
  if (notes.length > 0) {
    lines.push("## Notes", "");
    for (const r of notes) lines.push(`- ${r.scenario} [${r.target}] (${r.status}): ${r.note}`);
    lines.push("");
  }
  writeFileSync(path.join(dir, "report.md"), lines.join("\n"));
}
