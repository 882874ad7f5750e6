import { once } from "node:events";
import { Worker } from "node:worker_threads";

/**
 * Ticks at fixed intervals with sub-millisecond precision, without spinning.
 *
 * Node's timers have a resolution of 1 ms and fire late by up to a further
 * millisecond (libuv rounds the loop's clock), so a constant-rate loop that
 * sleeps with setTimeout sent each request 0.6 ms late at the median and 2 ms
 * at p99 (measured here at 2,000/s). Latency counts from the due time, so that
 * lateness landed in every figure, floors included. A worker thread sleeps in
 * Atomics.wait, which takes fractional milliseconds, until each due time and
 * posts a message; the message wakes the main event loop at once.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const cell = new Int32Array(new SharedArrayBuffer(4));
const monotonicMs = () => {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
};
parentPort.once("message", ({ firstDueMs, intervalMs, ticks }) => {
  for (let i = 0; i < ticks; i++) {
    const due = firstDueMs + i * intervalMs;
    for (let wait = due - monotonicMs(); wait > 0; wait = due - monotonicMs()) Atomics.wait(cell, 0, 0, wait);
    parentPort.postMessage(i);
  }
  // Stays until stop() terminates it, so an exit always means a failure.
  Atomics.wait(cell, 0, 0);
});
parentPort.postMessage("ready");
`;

function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export class Metronome {
  private stopping = false;
  /** Rejects if the worker fails or exits before stop(): a caller waiting for ticks must not hang. */
  readonly failed: Promise<never>;

  private constructor(private readonly worker: Worker) {
    this.failed = new Promise<never>((_, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => {
        if (!this.stopping) reject(new Error(`the metronome's worker exited early (code ${code})`));
      });
    });
    this.failed.catch(() => {});
  }

  /** A metronome whose worker is up, so the first tick can be due almost at once. */
  static async start(): Promise<Metronome> {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const metronome = new Metronome(worker);
    await Promise.race([once(worker, "message"), metronome.failed]);
    return metronome;
  }

  /**
   * Calls `onTick(i)` at (about) `firstDue + i * intervalMs` for i < `ticks`,
   * times on this thread's performance.now() clock. Once per metronome.
   */
  run(firstDue: number, intervalMs: number, ticks: number, onTick: (i: number) => void): void {
    this.worker.on("message", onTick);
    // Both threads read the same monotonic clock through process.hrtime(); performance.now() has
    // another origin in each (and timeOrigin is not exact enough to convert between them).
    this.worker.postMessage({ firstDueMs: monotonicMs() + (firstDue - performance.now()), intervalMs, ticks });
  }

  /** Resolves once the worker has stopped. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }
}
