import { LatencyHistogram } from "./histogram.js";
import type { LoadResult } from "./load.js";
import { type CpuSource, sourceCpuMs } from "./proc.js";
import type { ScenarioResult } from "./results.js";

/** One measured slice of a throughput scenario on one target. */
export interface Sample extends LoadResult {
  /** Server CPU used during the slice; undefined without a local server process. */
  readonly serverCpuMs: number | undefined;
  /** Operations counted for throughput and CPU (messages for batches). */
  readonly units: number;
  /** Problems found checking the replies. */
  readonly mismatches: number;
  /** The load client's own CPU (user + system) during the slice. */
  readonly clientCpuMs: number;
}

/** A throughput scenario set up on one target, ready to be measured in slices. */
export interface Participant {
  readonly scenario: string;
  readonly target: string;
  readonly unit: string;
  measure(durationMs: number): Promise<Sample>;
  close(): Promise<void> | void;
  readonly extra?: Record<string, number | string>;
}

/** Runs a closed-loop slice and reads the server's CPU around it. */
export async function sampled(
  server: CpuSource | undefined,
  unitsPerOp: number,
  mismatches: () => number,
  run: () => Promise<LoadResult>,
): Promise<Sample> {
  const before = sourceCpuMs(server);
  const clientBefore = process.cpuUsage();
  const mismatchesBefore = mismatches();
  const result = await run();
  const after = sourceCpuMs(server);
  const client = process.cpuUsage(clientBefore);
  const serverCpuMs = before === undefined || after === undefined ? undefined : after - before;
  return {
    ...result,
    serverCpuMs,
    clientCpuMs: (client.user + client.system) / 1000,
    units: result.ok * unitsPerOp,
    mismatches: mismatches() - mismatchesBefore,
  };
}

/**
 * Measures every participant in turn, `rounds` times over: on a shared,
 * noisy machine the targets and their baselines then see the same noise,
 * so their ratios mean something. Each participant gets durationMs in total.
 */
export async function interleaved(
  participants: readonly Participant[],
  rounds: number,
  durationMs: number,
): Promise<ScenarioResult[]> {
  const samples = participants.map(() => [] as Sample[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, participant] of participants.entries()) {
      samples[i]?.push(await participant.measure(durationMs / rounds));
    }
  }
  return participants.map((participant, i) => combine(participant, samples[i] ?? []));
}

function combine(participant: Participant, samples: readonly Sample[]): ScenarioResult {
  const latency = new LatencyHistogram();
  let ok = 0;
  let units = 0;
  let errors = 0;
  let mismatches = 0;
  let elapsedMs = 0;
  let cpuMs: number | undefined = 0;
  let clientCpuMs = 0;
  let firstError: string | undefined;
  for (const s of samples) {
    latency.add(s.latency);
    ok += s.ok;
    units += s.units;
    errors += s.errors;
    mismatches += s.mismatches;
    elapsedMs += s.elapsedMs;
    clientCpuMs += s.clientCpuMs;
    cpuMs = cpuMs === undefined || s.serverCpuMs === undefined ? undefined : cpuMs + s.serverCpuMs;
    firstError ??= s.firstError;
  }
  const note = firstError ?? (mismatches > 0 ? `${mismatches} wrong replies` : undefined);
  return {
    scenario: participant.scenario,
    target: participant.target,
    status: errors > 0 || mismatches > 0 || ok === 0 ? "failed" : "ok",
    ...(note ? { note } : {}),
    throughput: elapsedMs > 0 ? (units * 1000) / elapsedMs : 0,
    unit: participant.unit,
    latency: latency.summary(),
    ...(cpuMs !== undefined && units > 0 ? { serverCpuUsPerOp: (cpuMs * 1000) / units } : {}),
    errors,
    extra: {
      ...participant.extra,
      // The load client's share of its core: near 1.0 means the client, not the server, set the pace.
      clientCpuShare: elapsedMs > 0 ? clientCpuMs / elapsedMs : 0,
      clientCpuUsPerOp: units > 0 ? (clientCpuMs * 1000) / units : 0,
    },
  };
}
