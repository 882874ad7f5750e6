import { LatencyHistogram } from "./histogram.js";
import { Metronome } from "./metronome.js";
import { progress } from "./progress.js";

export interface LoadResult {
  readonly ok: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly latency: LatencyHistogram;
  readonly firstError: string | undefined;
}

/**
 * Closed loop: `concurrency` operations in flight until `durationMs` passes or
 * `maxOps` complete (both bound the loop). Latency is per operation.
 */
export async function closedLoop(
  label: string,
  opts: { concurrency: number; durationMs: number; maxOps: number },
  op: (i: number) => Promise<unknown>,
): Promise<LoadResult> {
  const latency = new LatencyHistogram();
  let started = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const deadline = t0 + opts.durationMs;
  const worker = async () => {
    while (started < opts.maxOps && performance.now() < deadline) {
      const i = started++;
      const s = performance.now();
      try {
        await op(i);
        ok += 1;
        latency.recordMs(performance.now() - s);
      } catch (err) {
        errors += 1;
        firstError ??= String(err);
      }
      if ((ok & 1023) === 0) {
        const secs = (performance.now() - t0) / 1000;
        progress.update(`${label}: ${ok} ok, ${errors} errors, ${Math.round(ok / secs)}/s`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  return { ok, errors, elapsedMs, latency, firstError };
}

/**
 * Open loop at a constant arrival rate: operation i is due at t0 + i/rate
 * (`dueAt`, on the performance.now() clock) and is started then whatever the
 * previous ones are doing. Latency counts from the due time, so a stall shows
 * up (no coordinated omission), the load client's own included. A Metronome
 * wakes the loop at each due time (Node's own timers would send up to 2 ms late).
 */
export async function constantRate(
  label: string,
  opts: { ratePerSecond: number; durationMs: number },
  op: (i: number, dueAt: number) => Promise<unknown>,
): Promise<LoadResult & { late: number }> {
  const latency = new LatencyHistogram();
  const total = Math.max(1, Math.floor((opts.ratePerSecond * opts.durationMs) / 1000));
  const intervalMs = 1000 / opts.ratePerSecond;
  let ok = 0;
  let errors = 0;
  let late = 0;
  let firstError: string | undefined;
  const pending = new Set<Promise<void>>();
  let issued = 0;
  let allIssued!: () => void;
  const issuing = new Promise<void>((resolve) => {
    allIssued = resolve;
  });
  // Tick i means operation i is due; so is any later one whose time has come (ticks queue while the loop is busy).
  const issueDue = (tick: number) => {
    if (issued >= total) return;
    const due = Math.min(total, Math.max(tick + 1, Math.floor((performance.now() - t0) / intervalMs) + 1));
    // More than 50 ms behind schedule: count it; the sender is the bottleneck.
    if (due - issued > opts.ratePerSecond / 20) late += 1;
    for (; issued < due; issued++) {
      const dueAt = t0 + issued * intervalMs;
      const p = started(() => op(issued, dueAt)).then(
        () => {
          ok += 1;
          latency.recordMs(performance.now() - dueAt);
        },
        (err: unknown) => {
          errors += 1;
          firstError ??= String(err);
        },
      );
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    progress.update(`${label}: ${issued}/${total} sent, ${ok} ok, ${errors} errors`);
    if (issued >= total) allIssued();
  };
  const metronome = await Metronome.start();
  const t0 = performance.now() + 1;
  metronome.run(t0, intervalMs, total, issueDue);
  let elapsedMs: number;
  try {
    await Promise.race([issuing, metronome.failed]);
    await Promise.all(pending);
    elapsedMs = performance.now() - t0;
  } finally {
    // Stopping the worker takes ~10 ms: not part of the run.
    await metronome.stop();
  }
  return { ok, errors, late, elapsedMs, latency, firstError };
}

/** `start()`'s promise, or a rejected one if it throws before returning one (it runs inside an event handler). */
function started(start: () => Promise<unknown>): Promise<unknown> {
  try {
    return start();
  } catch (err) {
    return Promise.reject(err);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `intervalMs` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function waitUntil(check: () => boolean, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(intervalMs);
  }
  return true;
}
