import assert from "node:assert/strict";
import { appendFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "node:test";
import { ROOT } from "../../support/node-process.js";
import { type Counts, type Findings, verdictLine } from "./checker.js";

/** A gateway process past this is not bounding what it holds for slow subscribers (it idles at ~100-170 MiB under tsx). */
export const MAX_RSS_MIB = 400;

/** The gateway answers within its Redis command timeout (2 s); past this (generous: the machine is shared) a call is hanging. */
export const MAX_UNBOUNDED_CALL_SECONDS = 15;

export interface LossAllowance {
  /** Acknowledged messages that may be lost (not fetchable); 0 unless the scenario's settings allow loss. */
  readonly mayLose?: number;
  /**
   * Messages that may reach subscribers under two ids: Redis forgot the
   * idempotency key with the first copy (FLUSHALL), so a retry published again.
   * Defaults to mayLose.
   */
  readonly mayRepublish?: number;
}

/** The promises every scenario keeps, plus the scenario's allowance for loss. */
export function brokenPromises(counts: Counts, allowance: LossAllowance = {}): string[] {
  const broken: string[] = [];
  const mayLose = allowance.mayLose ?? 0;
  if (counts.idReuse > 0) broken.push(`${counts.idReuse} ids reused`);
  if (counts.notFetchable > mayLose)
    broken.push(`${counts.notFetchable} acknowledged not fetchable (allowed ${mayLose})`);
  if (counts.silentlySkipped > 0) broken.push(`${counts.silentlySkipped} silently skipped`);
  if (counts.duplicates > 0) broken.push(`${counts.duplicates} duplicates`);
  // A key's second id is only excusable where Redis may lose the first copy (and the key's memory with it).
  const mayRepublish = allowance.mayRepublish ?? mayLose;
  if (counts.republished > mayRepublish) {
    broken.push(`${counts.republished} messages published twice (allowed ${mayRepublish})`);
  }
  if (counts.outOfOrder > 0) broken.push(`${counts.outOfOrder} out of order`);
  if (counts.rejected > 0) broken.push(`${counts.rejected} publishes refused with a non-retryable code`);
  // Calls with a deadline end by it (client side); the probe's calls have none, so only the gateway ends them.
  // The bound is generous: the machine is shared and a starved client stalls too.
  if (counts.longestUnboundedCallSeconds > MAX_UNBOUNDED_CALL_SECONDS + counts.clientStallSeconds) {
    broken.push(`a call without a deadline took ${counts.longestUnboundedCallSeconds} s: it hung`);
  }
  if (counts.acked === 0) broken.push("nothing was acknowledged");
  if (counts.slowCaughtUp !== 1) broken.push("the slow subscriber neither caught up nor got a Gap marker");
  if (counts.peakRssMiB > MAX_RSS_MIB) broken.push(`a gateway process reached ${counts.peakRssMiB} MiB`);
  return broken;
}

/**
 * Prints the scenario's one-line verdict (and samples of what went wrong),
 * records it in test-output/faults/results.jsonl, and fails the test when a
 * promise was broken.
 */
export function verdict(
  t: TestContext,
  name: string,
  findings: Findings,
  broken: string[],
  extra: Record<string, unknown> = {},
): void {
  // The machine is shared: its load says how much of an outage is CPU starvation.
  const context = { ...extra, loadAverage1m: Number(os.loadavg()[0]?.toFixed(1)) };
  const line = verdictLine(name, broken, findings.counts, context);
  t.diagnostic(line);
  console.log(line);
  t.diagnostic(`  outages (s after start, length): ${JSON.stringify(findings.outages)}`);
  t.diagnostic(`  failed attempts by code: ${JSON.stringify(findings.failureCodes)}`);
  for (const sample of findings.samples) t.diagnostic(`  ${sample}`);
  const dir = path.join(ROOT, "test-output", "faults");
  mkdirSync(dir, { recursive: true });
  appendFileSync(
    path.join(dir, "results.jsonl"),
    `${JSON.stringify({ at: new Date().toISOString(), name, pass: broken.length === 0, broken, ...findings.counts, ...context })}\n`,
  );
  assert.deepEqual(broken, [], `${name}: ${line}\n${findings.samples.join("\n")}`);
}
