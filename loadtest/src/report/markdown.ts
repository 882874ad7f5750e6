import { writeFileSync } from "node:fs";
import path from "node:path";
import type { ScenarioResult } from "../results.js";
import { baselineOf, type TargetCheck } from "../targets.js";
import { type BarGroup, renderBarChart } from "./svg.js";

export interface BenchRun {
  readonly startedAt: string;
  readonly smoke: boolean;
  readonly machine: {
    readonly cpus: number;
    readonly node: string;
    readonly pinned: boolean;
    readonly loadAverage: { readonly start: number; readonly end: number };
  };
  readonly results: readonly ScenarioResult[];
  readonly targets: readonly TargetCheck[];
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
  const plots: [file: string, svg: string][] = [
    [
      "throughput.svg",
      renderBarChart({
        title: "Throughput by engine, beside its baseline",
        unit: "operations (messages) per second",
        groups: groupsFor(withBaselines, ["publish", "hot-fetch", "batch-publish", "archiver"], (r) => r.throughput),
      }),
    ],
    [
      "server-cpu.svg",
      renderBarChart({
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
      renderBarChart({
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
      renderBarChart({
        title: "Idle subscriptions: gateway RSS",
        unit: "MiB",
        groups: groupsFor(results, ["idle-subscribers"], (r) => r.extra?.rssMiB as number | undefined),
      }),
    ],
  ];
  for (const [file, svg] of plots) writeFileSync(path.join(dir, file), svg);

  const lines: string[] = [];
  lines.push(`# Benchmark report${run.smoke ? " (smoke run: correctness only, figures meaningless)" : ""}`, "");
  lines.push(
    `Run ${run.startedAt} on ${run.machine.cpus} cores, Node ${run.machine.node}, 1-minute load average ` +
      `${run.machine.loadAverage.start.toFixed(1)} at the start and ${run.machine.loadAverage.end.toFixed(1)} at the end; ` +
      (run.machine.pinned
        ? "servers pinned to one core and the load client to the other (taskset). "
        : "taskset unavailable: nothing pinned. ") +
      "Redis and PostgreSQL are the machine's shared services (not pinned). Figures from one run on a shared machine: " +
      "trust the ratios to the baselines measured in the same run more than the absolute numbers.",
    "",
  );
  if (run.targets.length > 0) {
    lines.push("## Targets (issue 6)", "", "| target | measured | met |", "|---|---|---|");
    for (const t of run.targets)
      lines.push(
        `| ${t.target} | ${t.measured} | ${t.met === undefined ? "not measured" : t.met ? "yes" : "**no**"} |`,
      );
    lines.push("");
  }
  lines.push("## Throughput", "", "![throughput](throughput.svg)", "");
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
  lines.push("", "## Server CPU per operation", "", "![server CPU](server-cpu.svg)", "");
  lines.push("## Latency", "", "![latency](latency.svg)", "");
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
    lines.push("## Idle subscriptions", "", "![idle memory](idle-memory.svg)", "");
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
