import type { ScenarioResult } from "../results.js";
import { GATEWAY_TARGET, NOOP_TARGET } from "../scenarios/peers.js";
import { type BarGroup, renderBarChart } from "./svg.js";

export const JS_MEMORY = "JetStream memory";
export const JS_FILE = "JetStream file";
export const JS_CORE = "JetStream memory, core-NATS subscribers";
export const RAW_REDIS = "raw Redis (XADD / XREAD)";
const SYSTEMS = [GATEWAY_TARGET, JS_MEMORY, JS_FILE, JS_CORE, RAW_REDIS, NOOP_TARGET] as const;

interface Metric {
  readonly label: string;
  readonly value: (r: ScenarioResult) => number | undefined;
  readonly digits: number;
  /** true: a bigger gateway / JetStream ratio is better (throughput). */
  readonly higherIsBetter: boolean;
}

const throughput: Metric = { label: "msg/s", value: (r) => r.throughput, digits: 0, higherIsBetter: true };
const cpu: Metric = { label: "server CPU µs/msg", value: (r) => r.serverCpuUsPerOp, digits: 1, higherIsBetter: false };
const latency = (label: string, pick: "p50" | "p99" | "p999"): Metric => ({
  label: `${label} ms`,
  value: (r) => r.latency?.[pick],
  digits: 2,
  higherIsBetter: false,
});

function metricsOf(scenario: string): Metric[] {
  if (scenario.startsWith("peer-e2e") || scenario.startsWith("peer-fanout")) {
    return [
      latency("p50", "p50"),
      latency("p99", "p99"),
      latency("p99.9", "p999"),
      { ...cpu, label: "server CPU µs/delivery" },
    ];
  }
  return [throughput, cpu];
}

export interface SideBySideRow {
  readonly scenario: string;
  readonly metric: string;
  readonly values: Record<string, number | undefined>;
  /** gateway / JetStream memory and gateway / JetStream file. */
  readonly vsMemory: number | undefined;
  readonly vsFile: number | undefined;
  readonly digits: number;
  readonly higherIsBetter: boolean;
}

export function sideBySideRows(results: readonly ScenarioResult[]): SideBySideRow[] {
  const scenarios = [...new Set(results.filter((r) => r.scenario.startsWith("peer-")).map((r) => r.scenario))];
  const rows: SideBySideRow[] = [];
  for (const scenario of scenarios) {
    const of = (target: string) =>
      results.find((r) => r.scenario === scenario && r.target === target && r.status === "ok");
    for (const metric of metricsOf(scenario)) {
      const values: Record<string, number | undefined> = {};
      for (const system of SYSTEMS) {
        const result = of(system);
        values[system] = result ? metric.value(result) : undefined;
      }
      const gateway = values[GATEWAY_TARGET];
      const ratio = (peer: number | undefined) =>
        gateway === undefined || peer === undefined || peer === 0 ? undefined : gateway / peer;
      rows.push({
        scenario,
        metric: metric.label,
        values,
        vsMemory: ratio(values[JS_MEMORY]),
        vsFile: ratio(values[JS_FILE]),
        digits: metric.digits,
        higherIsBetter: metric.higherIsBetter,
      });
    }
  }
  return rows;
}

const fmt = (value: number | undefined, digits: number) =>
  value === undefined
    ? "–"
    : value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The side-by-side table as markdown: what `npm run bench` prints and report.md carries. */
export function sideBySideTable(results: readonly ScenarioResult[]): string {
  const rows = sideBySideRows(results);
  if (rows.length === 0) return "";
  // Only the systems that ran in some scenario get a column.
  const systems = SYSTEMS.filter((system) => rows.some((row) => row.values[system] !== undefined));
  const lines = [
    `| scenario | metric | ${systems.join(" | ")} | gateway / JS memory | gateway / JS file |`,
    `|---|---|${systems.map(() => "---").join("|")}|---|---|`,
  ];
  for (const row of rows) {
    const cells = systems.map((system) => fmt(row.values[system], row.digits));
    lines.push(
      `| ${row.scenario} | ${row.metric} | ${cells.join(" | ")} | ${fmt(row.vsMemory, 2)}× | ${fmt(row.vsFile, 2)}× |`,
    );
  }
  return lines.join("\n");
}

/** The plots of the side-by-side section: [file, svg]. */
export function sideBySidePlots(results: readonly ScenarioResult[]): [string, string][] {
  const rows = sideBySideRows(results);
  if (rows.length === 0) return [];
  const ratioGroups: BarGroup[] = rows
    .filter((row) => row.vsMemory !== undefined || row.vsFile !== undefined)
    .map((row) => ({
      label: `${row.scenario} ${row.metric}${row.higherIsBetter ? " ↑" : " ↓"}`,
      bars: [
        ...(row.vsMemory === undefined ? [] : [{ label: "÷ JetStream memory", value: row.vsMemory }]),
        ...(row.vsFile === undefined ? [] : [{ label: "÷ JetStream file", value: row.vsFile }]),
      ],
    }));
  const byMetric = (metric: string, title: string, unit: string): string =>
    renderBarChart({
      title,
      unit,
      groups: rows
        .filter((row) => row.metric === metric)
        .map((row) => ({
          label: row.scenario,
          bars: SYSTEMS.flatMap((system) => {
            const value = row.values[system];
            return value === undefined ? [] : [{ label: system, value }];
          }),
        })),
    });
  return [
    [
      "nats-ratios.svg",
      renderBarChart({
        title: "Gateway ÷ JetStream, same run (↑ higher is better, ↓ lower is better)",
        unit: "ratio",
        groups: ratioGroups,
      }),
    ],
    ["nats-latency-p99.svg", byMetric("p99 ms", "Delivery latency p99, side by side", "milliseconds")],
    ["nats-throughput.svg", byMetric("msg/s", "Throughput, side by side", "messages per second")],
    [
      "nats-server-cpu.svg",
      byMetric("server CPU µs/msg", "Server CPU per message, side by side", "µs (gateway counts its Redis)"),
    ],
  ];
}
