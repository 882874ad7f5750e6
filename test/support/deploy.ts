import { readFileSync } from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { ArchiverMetrics } from "../../archiver/src/metrics.js";
import { GatewayMetrics } from "../../gateway/src/observability/gateway-metrics.js";
import { ROOT } from "./node-process.js";

export const DEPLOY = path.join(ROOT, "deploy");

// biome-ignore lint/suspicious/noExplicitAny: deploy files are untyped YAML, inspected field by field.
export type Yaml = any;

export function readYaml(relative: string): Yaml {
  // Merge keys (`<<: *anchor`) as compose and Envoy read them.
  return parse(readFileSync(path.join(DEPLOY, relative), "utf8"), { merge: true });
}

export function parseYamlStream(text: string): Yaml[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(document.errors.map(String).join("\n"));
      return document.toJS();
    })
    .filter((document) => document !== null);
}

/** "300ms", "5s", "1m30s" and the like, in milliseconds. */
export function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
  }
  return total;
}

/**
 * The series names a PromQL expression reads. Strings, label matchers, range
 * selectors and grouping clauses are removed; what remains that is not a
 * function call or keyword is a metric name.
 */
export function promqlMetricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "inf", "nan"]);
  const names: string[] = [];
  for (const match of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = match;
    if (call || keywords.has((name as string).toLowerCase())) continue;
    if (match.index > 0 && /[\d.]/.test(stripped[match.index - 1] as string)) continue; // 1e3, 0.5s
    names.push(name as string);
  }
  return names;
}

/**
 * Every series name the gateway and archiver export (histograms with their
 * _bucket, _sum and _count series), plus `up`, which Prometheus adds.
 */
export async function exportedSeriesNames(): Promise<Set<string>> {
  const names = new Set<string>(["up"]);
  for (const registry of [new GatewayMetrics().registry, new ArchiverMetrics().registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === "histogram") {
        for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${metric.name}${suffix}`);
      }
    }
  }
  return names;
}
