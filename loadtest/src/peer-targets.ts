import { JS_CORE, JS_FILE, JS_MEMORY, RAW_REDIS } from "./report/side-by-side.js";
import type { ScenarioResult } from "./results.js";
import { sizeLabel } from "./scenarios/peer-throughput.js";
import { GATEWAY_TARGET, NOOP_TARGET, PEER_BODY_SIZES } from "./scenarios/peers.js";
import type { TargetCheck } from "./targets.js";

const fmt = (n: number | undefined, digits = 2) =>
  n === undefined ? "n/a" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * Issue 18's targets, judged against JetStream with memory storage in the same
 * run (the like-for-like peer: the gateway's Redis here keeps nothing on disk);
 * JetStream file storage and the raw-Redis floor are quoted beside it.
 */
export function checkPeerTargets(results: readonly ScenarioResult[]): TargetCheck[] {
  const find = (scenario: string, target: string) =>
    results.find((r) => r.scenario === scenario && r.target === target && r.status === "ok");
  const checks: TargetCheck[] = [];
  const compare = (
    target: string,
    scenario: string,
    value: (r: ScenarioResult) => number | undefined,
    unit: string,
    met: (gateway: number, jetstream: number) => boolean,
    digits = 2,
  ) => {
    const [gw, mem, file, core, raw, noop] = [GATEWAY_TARGET, JS_MEMORY, JS_FILE, JS_CORE, RAW_REDIS, NOOP_TARGET].map(
      (t) => {
        const r = find(scenario, t);
        return r ? value(r) : undefined;
      },
    );
    const ratio = gw !== undefined && mem ? gw / mem : undefined;
    const beside = [
      `JetStream file ${fmt(file, digits)}`,
      core !== undefined && `JetStream with core-NATS subscribers ${fmt(core, digits)}`,
      raw !== undefined && `floors: raw Redis ${fmt(raw, digits)}`,
      noop !== undefined && `${raw === undefined ? "floor: " : ""}no-op gRPC server ${fmt(noop, digits)}`,
    ].filter(Boolean);
    checks.push({
      target,
      measured: `${fmt(ratio)}× (gateway ${fmt(gw, digits)} vs JetStream memory ${fmt(mem, digits)} ${unit}; ${beside.join(", ")})`,
      met: gw === undefined || mem === undefined ? undefined : met(gw, mem),
    });
  };
  for (const size of PEER_BODY_SIZES) {
    const s = sizeLabel(size);
    compare(
      `E2E p99 at 2,000/s (${s}) ≤ JetStream's`,
      `peer-e2e-${s}`,
      (r) => r.latency?.p99,
      "ms",
      (g, j) => g <= j,
    );
  }
  for (const subscribers of [100, 1_000]) {
    compare(
      `Fan-out 1 → ${subscribers.toLocaleString("en-US")} p99 ≤ JetStream's`,
      `peer-fanout-${subscribers}`,
      (r) => r.latency?.p99,
      "ms",
      (g, j) => g <= j,
    );
  }
  for (const size of PEER_BODY_SIZES) {
    const s = sizeLabel(size);
    compare(
      `Unary publish (${s}): server CPU per message (Redis counted) ≤ 1.5× JetStream's`,
      `peer-publish-${s}`,
      (r) => r.serverCpuUsPerOp,
      "µs",
      (g, j) => g <= 1.5 * j,
      1,
    );
  }
  for (const size of PEER_BODY_SIZES) {
    const s = sizeLabel(size);
    compare(
      `Batch publish of 100 (${s}) > JetStream async publish of 100`,
      `peer-batch-${s}`,
      (r) => r.throughput,
      "msg/s",
      (g, j) => g > j,
      0,
    );
  }
  return checks;
}
