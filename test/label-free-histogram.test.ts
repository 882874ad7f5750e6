import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { LabelFreeHistogram } from "../gateway/src/patches/prom-client-label-free-histogram.js";

const BUCKETS = [0.001, 0.01, 0.1, 1];
/** Below, on and between the bounds, and above the last one (+Inf only). */
const OBSERVATIONS = [0, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.5, 1, 2, 30];

function both() {
  const ours = new Registry();
  const theirs = new Registry();
  const fast = new LabelFreeHistogram("lag_seconds", "Lag.", BUCKETS, [ours]);
  const reference = new Histogram({ name: "lag_seconds", help: "Lag.", buckets: BUCKETS, registers: [theirs] });
  return { ours, theirs, fast, reference };
}

describe("LabelFreeHistogram", () => {
  it("prints exactly what prom-client's Histogram prints for the same observations", async () => {
    const { ours, theirs, fast, reference } = both();
    for (const value of OBSERVATIONS) {
      fast.observe(value);
      reference.observe(value);
    }
    assert.equal(await ours.metrics(), await theirs.metrics());
    assert.match(await ours.metrics(), /lag_seconds_bucket\{le="\+Inf"\} 10\n/);
  });

  it("prints zero counts before any observation, as a fresh Histogram does", async () => {
    const { ours, theirs } = both();
    assert.equal(await ours.metrics(), await theirs.metrics());
  });

  it("is summed bucket by bucket across workers by the cluster aggregator", async () => {
    const workers = [both(), both()];
    workers[0]?.fast.observe(0.005);
    workers[1]?.fast.observe(0.005);
    workers[1]?.fast.observe(5);
    const aggregated = AggregatorRegistry.aggregate(
      await Promise.all(workers.map(({ ours }) => ours.getMetricsAsJSON())),
    );
    const text = await aggregated.metrics();
    assert.match(text, /lag_seconds_bucket\{le="0.01"\} 2\n/);
    assert.match(text, /lag_seconds_bucket\{le="\+Inf"\} 3\n/);
    assert.match(text, /lag_seconds_count 3\n?/);
    assert.match(text, /lag_seconds_sum 5.01\n/);
  });

  it("starts over when the registry's metrics are reset", async () => {
    const { ours, fast } = both();
    fast.observe(0.5);
    ours.resetMetrics();
    assert.match(await ours.metrics(), /lag_seconds_count 0/);
  });
});
