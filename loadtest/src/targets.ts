import type { ScenarioResult } from "./results.js";

/** One of issue 6's targets, judged from one run's results. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined: could not be judged (a figure is missing or not available). */
  readonly met: boolean | undefined;
}

type Find = (scenario: string, target: string) => ScenarioResult | undefined;

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function checkTargets(results: readonly ScenarioResult[]): TargetCheck[] {
  const find: Find = (scenario, target) =>
    results.find((r) => r.scenario === scenario && r.target === target && r.status !== "not available");
  const checks: TargetCheck[] = [];
  const add = (target: string, measured: string, met: boolean | undefined) => checks.push({ target, measured, met });

  const pub = find("publish", "redis");
  const noopPub = find("publish", "no-op gRPC");
  const cpuRatio = ratio(pub?.serverCpuUsPerOp, noopPub?.serverCpuUsPerOp);
  add(
    "Unary Publish (Redis): server CPU per publish ≤ 1.5× no-op",
    `${fmt(cpuRatio)}× (${fmt(pub?.serverCpuUsPerOp, 1)} µs vs ${fmt(noopPub?.serverCpuUsPerOp, 1)} µs)`,
    cpuRatio === undefined ? undefined : cpuRatio <= 1.5,
  );
  const rateRatio = ratio(pub?.throughput, noopPub?.throughput);
  add(
    "Unary Publish (Redis): throughput ≥ 0.8× no-op",
    `${fmt(rateRatio)}× (${fmt(pub?.throughput, 0)}/s vs ${fmt(noopPub?.throughput, 0)}/s)`,
    rateRatio === undefined ? undefined : rateRatio >= 0.8,
  );
  const batch = find("batch-publish", "redis");
  const xadd = find("raw-xadd", "raw Redis");
  const batchRatio = ratio(batch?.throughput, xadd?.throughput);
  add(
    "Batch publish (Redis) ≥ 0.75× raw XADD rate",
    `${fmt(batchRatio)}× (${fmt(batch?.throughput, 0)} vs ${fmt(xadd?.throughput, 0)} messages/s)`,
    batchRatio === undefined ? undefined : batchRatio >= 0.75,
  );
  const e2e = find("e2e-delivery", "redis");
  add(
    "E2E delivery (Redis) at 2,000 msg/s: p99 < 10 ms",
    `p99 ${fmt(e2e?.latency?.p99)} ms, lost ${e2e?.lost ?? "n/a"}`,
    e2e?.latency ? e2e.latency.p99 < 10 && e2e.lost === 0 : undefined,
  );
  const fan = find("fan-out", "redis");
  add(
    "Fan-out (Redis) 1 → 1,000 at 100 msg/s: p99 < 50 ms, none missing",
    `p99 ${fmt(fan?.latency?.p99)} ms, lost ${fan?.lost ?? "n/a"}`,
    fan?.latency ? fan.latency.p99 < 50 && fan.lost === 0 : undefined,
  );
  const idle = find("idle-subscribers", "redis");
  const rss = idle?.extra?.rssMiB as number | undefined;
  const conns = idle?.extra?.redisConnections as number | undefined;
  add(
    "10,000 idle subscriptions / 1,000 subjects (Redis): < 300 MiB RSS, ≤ 8 Redis connections",
    `${fmt(rss, 0)} MiB, ${conns ?? "n/a"} connections, lost ${idle?.lost ?? "n/a"}`,
    rss === undefined || conns === undefined ? undefined : rss < 300 && conns <= 8 && idle?.lost === 0,
  );
  const fetch = find("hot-fetch", "redis");
  const noopFetch = find("hot-fetch", "no-op gRPC");
  const fetchRatio = ratio(fetch?.throughput, noopFetch?.throughput);
  add(
    "Hot Fetch (Redis) ≥ 0.8× no-op rate",
    `${fmt(fetchRatio)}× (${fmt(fetch?.throughput, 0)}/s vs ${fmt(noopFetch?.throughput, 0)}/s)`,
    fetchRatio === undefined ? undefined : fetchRatio >= 0.8,
  );
  const archived = find("archived-fetch", "redis+archive");
  add(
    "Archived Fetch p99 < 5 ms at 2,000/s",
    archived?.latency ? `p99 ${fmt(archived.latency.p99)} ms` : "not available",
    archived?.latency ? archived.latency.p99 < 5 && archived.status === "ok" : undefined,
  );
  const archiver = find("archiver", "redis+archive");
  const insert = find("raw-insert", "raw PostgreSQL");
  const archiverRatio = ratio(archiver?.throughput, insert?.throughput);
  add(
    "Archiver ≥ 0.5× raw batched insert (binary COPY, one client, into the archive table's shape)",
    archiver
      ? `${fmt(archiverRatio)}× (${fmt(archiver.throughput, 0)} vs ${fmt(insert?.throughput, 0)} rows/s)`
      : "not available",
    archiverRatio === undefined ? undefined : archiverRatio >= 0.5,
  );
  return checks;
}

/** The baseline each scenario is compared with, when it has one. */
export function baselineOf(results: readonly ScenarioResult[], result: ScenarioResult): ScenarioResult | undefined {
  const pick = (scenario: string, target: string) =>
    results.find((r) => r.scenario === scenario && r.target === target && r.status === "ok");
  const baselineTargets = ["no-op gRPC", "raw Redis", "raw PostgreSQL"];
  if (baselineTargets.includes(result.target)) return undefined;
  switch (result.scenario) {
    case "publish":
      return pick("publish", "no-op gRPC");
    case "hot-fetch":
      return pick("hot-fetch", "no-op gRPC");
    case "batch-publish":
      return pick("raw-xadd", "raw Redis");
    case "archiver":
      return pick("raw-insert", "raw PostgreSQL");
    default:
      return undefined;
  }
}
