/**
 * A server's garbage-collection pauses so far, read from its Prometheus
 * endpoint (prom-client's default `nodejs_gc_duration_seconds`, which both
 * the gateway and the no-op server export). Pauses explain latency tails
 * that CPU per operation does not show.
 */
export interface GcTotals {
  /** Scavenges (young generation). */
  readonly minorMs: number;
  readonly minorCount: number;
  /** Mark-compact collections (the whole heap), including incremental marking steps. */
  readonly majorMs: number;
  readonly majorCount: number;
  /** Pauses of any kind longer than 10 ms (the histogram's 0.01 s bucket). */
  readonly over10msCount: number;
}

const SAMPLE = /^nodejs_gc_duration_seconds_(sum|count)\{kind="(minor|major|incremental)"\} ([\d.e+-]+)$/gm;
const UNDER_10_MS = /^nodejs_gc_duration_seconds_bucket\{le="0\.01",kind="\w+"\} ([\d.e+-]+)$/gm;
const COUNT = /^nodejs_gc_duration_seconds_count\{kind="\w+"\} ([\d.e+-]+)$/gm;

export function parseGcTotals(exposition: string): GcTotals {
  const totals = { minorMs: 0, minorCount: 0, majorMs: 0, majorCount: 0, over10msCount: 0 };
  for (const [, value] of exposition.matchAll(COUNT)) totals.over10msCount += Number(value);
  for (const [, value] of exposition.matchAll(UNDER_10_MS)) totals.over10msCount -= Number(value);
  for (const [, stat, kind, value] of exposition.matchAll(SAMPLE)) {
    const v = Number(value);
    if (kind === "minor") {
      if (stat === "sum") totals.minorMs += v * 1000;
      else totals.minorCount += v;
    } else if (stat === "sum") totals.majorMs += v * 1000;
    // Incremental marking steps are part of a major collection, not collections of their own.
    else if (kind === "major") totals.majorCount += v;
  }
  return totals;
}

/** Reads the totals, or undefined when the server exposes no metrics (a remote target). */
export async function readGcTotals(metricsAddress: string | undefined): Promise<GcTotals | undefined> {
  if (metricsAddress === undefined) return undefined;
  try {
    const response = await fetch(`http://${metricsAddress}/metrics`);
    return response.ok ? parseGcTotals(await response.text()) : undefined;
  } catch {
    return undefined;
  }
}

/** What happened between two readings, per second of the run. */
export function gcDuring(
  before: GcTotals | undefined,
  after: GcTotals | undefined,
  elapsedMs: number,
): Record<string, number> {
  if (!before || !after || elapsedMs <= 0) return {};
  const seconds = elapsedMs / 1000;
  return {
    serverGcMsPerS: (after.minorMs + after.majorMs - before.minorMs - before.majorMs) / seconds,
    serverScavenges: after.minorCount - before.minorCount,
    serverMarkCompacts: after.majorCount - before.majorCount,
    serverGcPausesOver10ms: after.over10msCount - before.over10msCount,
  };
}
