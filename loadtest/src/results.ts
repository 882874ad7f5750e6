import type { LatencySummary } from "./histogram.js";
import { type CpuSource, sourceCpuMs } from "./proc.js";
import { gcDuring, readGcTotals } from "./server-gc.js";
import type { ServerProcess } from "./servers.js";

/** One measured (or not measurable) figure of one scenario on one target. */
export interface ScenarioResult {
  /** e.g. "publish", "batch-publish", "e2e-delivery". */
  readonly scenario: string;
  /** An engine ("memory", "redis", "redis+archive") or a baseline ("no-op gRPC", "raw Redis", "raw PostgreSQL"). */
  readonly target: string;
  readonly status: "ok" | "failed" | "not available";
  /** Why it failed or is not available; facts worth knowing otherwise. */
  readonly note?: string;
  /** Operations (or messages, see unit) per second. */
  readonly throughput?: number;
  readonly unit?: string;
  readonly latency?: LatencySummary;
  /** Server process CPU (user + system) per operation, microseconds. */
  readonly serverCpuUsPerOp?: number;
  readonly errors?: number;
  /** Messages a subscriber should have received and did not. */
  readonly lost?: number;
  readonly extra?: Record<string, number | string>;
}

export interface BenchContext {
  readonly smoke: boolean;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** A short label unique to this run, used in subject names. */
  readonly runId: string;
}

/**
 * Runs `work` and reads the server's CPU time before and after (when it is a
 * local process), and its GC pauses meanwhile (`serverGc`, extras for the
 * result: GC ms per second, collections, pauses over 10 ms).
 */
export async function withServerCpu<T>(
  server: CpuSource & Pick<ServerProcess, "metricsAddress">,
  work: () => Promise<T>,
): Promise<{ value: T; serverCpuMs: number | undefined; serverGc: Record<string, number> }> {
  const gcBefore = await readGcTotals(server.metricsAddress);
  const startedAt = performance.now();
  const before = sourceCpuMs(server);
  const value = await work();
  const after = sourceCpuMs(server);
  const serverCpuMs = before === undefined || after === undefined ? undefined : after - before;
  const elapsedMs = performance.now() - startedAt;
  const serverGc = gcDuring(gcBefore, await readGcTotals(server.metricsAddress), elapsedMs);
  return { value, serverCpuMs, serverGc };
}

export function perOpUs(cpuMs: number | undefined, ops: number): number | undefined {
  return cpuMs === undefined || ops === 0 ? undefined : (cpuMs * 1000) / ops;
}

export function failed(scenario: string, target: string, err: unknown): ScenarioResult {
  return { scenario, target, status: "failed", note: err instanceof Error ? err.message : String(err) };
}
