import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { collectDefaultMetrics, Registry } from "prom-client";
import {
  FetchRequestSchema,
  MessageResponseSchema,
  PublishRequestSchema,
  PublishResponseSchema,
} from "../gateway/gen/broker/broker_pb.js";
import { bodyAndId } from "../loadtest/src/grpc-client.js";
import { LatencyHistogram } from "../loadtest/src/histogram.js";
import { constantRate } from "../loadtest/src/load.js";
import { fetchRequest } from "../loadtest/src/raw-fetcher.js";
import { idField, publishRequest } from "../loadtest/src/raw-publisher.js";
import type { ScenarioResult } from "../loadtest/src/results.js";
import { gcDuring, parseGcTotals } from "../loadtest/src/server-gc.js";
import { checkTargets } from "../loadtest/src/targets.js";

describe("The bench's lean MessageResponse reader", () => {
  it("finds the body and id protobuf-es wrote, whatever other fields are set", () => {
    const cases = [
      { body: new Uint8Array(128).fill(9), id: 1n, subject: "s", publishedAtMs: 1_764_000_000_000n },
      { body: new Uint8Array(0), id: 300n },
      { id: 2n ** 40n, subject: "x".repeat(300), body: new Uint8Array([1, 2, 3]) },
      { body: new Uint8Array(5), gap: { firstId: 1n, lastId: 2n, reason: "r" } },
    ];
    for (const init of cases) {
      const bytes = Buffer.from(toBinary(MessageResponseSchema, create(MessageResponseSchema, init)));
      const { body, id } = bodyAndId(bytes);
      assert.deepEqual(new Uint8Array(body), init.body);
      assert.equal(id, Number(init.id ?? 0n));
    }
  });
});

describe("The bench's lean Publish codec", () => {
  it("frames PublishRequest exactly as protobuf-es does and reads PublishResponse ids", () => {
    for (const [subject, size, expiration] of [
      ["s", 128, 60],
      ["subject-é", 0, 0],
      ["x".repeat(200), 300, 2 ** 31 - 1],
    ] as const) {
      const body = new Uint8Array(size).fill(3);
      const expected = toBinary(
        PublishRequestSchema,
        create(PublishRequestSchema, { subject, body, expirationSeconds: expiration }),
      );
      assert.deepEqual(new Uint8Array(publishRequest(subject, body, expiration)), expected);
    }
    for (const id of [0n, 1n, 300n, 2n ** 40n]) {
      const bytes = Buffer.from(toBinary(PublishResponseSchema, create(PublishResponseSchema, { id })));
      assert.equal(idField(bytes), Number(id));
    }
  });
});

describe("The bench's lean Fetch codec", () => {
  it("frames FetchRequest exactly as protobuf-es does", () => {
    for (const [subject, id] of [
      ["s", 1],
      ["subject-é", 0],
      ["x".repeat(200), 2 ** 40],
    ] as const) {
      const expected = toBinary(FetchRequestSchema, create(FetchRequestSchema, { subject, id: BigInt(id) }));
      assert.deepEqual(new Uint8Array(fetchRequest(subject, id)), expected);
    }
  });
});

describe("The bench's latency histogram", () => {
  it("reports percentiles in milliseconds within HDR precision", () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) histogram.recordMs(i / 10); // 0.1 .. 100 ms
    const summary = histogram.summary();
    assert.equal(summary.count, 1000);
    assert.ok(Math.abs(summary.p50 - 50) < 0.1, `p50 ${summary.p50}`);
    assert.ok(Math.abs(summary.p99 - 99) < 0.1, `p99 ${summary.p99}`);
    assert.ok(Math.abs(summary.max - 100) < 0.1, `max ${summary.max}`);
  });
});

describe("The bench's target checks", () => {
  const result = (scenario: string, target: string, fields: Partial<ScenarioResult>): ScenarioResult => ({
    scenario,
    target,
    status: "ok",
    ...fields,
  });

  it("judges ratios to the baselines measured in the same run", () => {
    const checks = checkTargets([
      result("publish", "no-op gRPC", { throughput: 10_000, serverCpuUsPerOp: 40 }),
      result("publish", "redis", { throughput: 7_000, serverCpuUsPerOp: 50 }),
      result("raw-xadd", "raw Redis", { throughput: 100_000 }),
      result("batch-publish", "redis", { throughput: 80_000 }),
    ]);
    const met = (prefix: string) => checks.find((c) => c.target.startsWith(prefix))?.met;
    assert.equal(met("Unary Publish (Redis): server CPU"), true); // 1.25x <= 1.5x
    assert.equal(met("Unary Publish (Redis): throughput"), false); // 0.7x < 0.8x
    assert.equal(met("Batch publish"), true); // 0.8x >= 0.75x
    assert.equal(met("Archiver"), undefined); // not measured: never called met
  });

  it("never counts an unavailable scenario as met", () => {
    const checks = checkTargets([
      { scenario: "archived-fetch", target: "redis+archive", status: "not available", note: "no archiver/" },
    ]);
    const archived = checks.find((c) => c.target.startsWith("Archived Fetch"));
    assert.equal(archived?.met, undefined);
    assert.equal(archived?.measured, "not available");
  });
});

describe("The bench's server GC readings", () => {
  it("reads prom-client's GC histogram as the servers export it", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    // Enough short-lived garbage for several scavenges, then a turn for the GC observer to report.
    let keep: object[] = [];
    for (let i = 0; i < 3_000_000; i++) {
      keep.push({ i });
      if (keep.length > 100_000) keep = [];
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const totals = parseGcTotals(await registry.metrics());
    registry.clear();
    assert.ok(totals.minorCount > 0, "scavenges counted");
    assert.ok(totals.minorMs > 0, "scavenge time summed");
    assert.ok(totals.over10msCount >= 0 && totals.over10msCount <= totals.minorCount + totals.majorCount);
  });

  it("turns two readings into pause time per second and counts", () => {
    const exposition = (minorSum: number, minorCount: number, majorSum: number, slow: number) =>
      [
        `nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} ${minorCount - slow}`,
        `nodejs_gc_duration_seconds_sum{kind="minor"} ${minorSum}`,
        `nodejs_gc_duration_seconds_count{kind="minor"} ${minorCount}`,
        `nodejs_gc_duration_seconds_bucket{le="0.01",kind="major"} 0`,
        `nodejs_gc_duration_seconds_sum{kind="major"} ${majorSum}`,
        `nodejs_gc_duration_seconds_count{kind="major"} ${majorSum > 0 ? 1 : 0}`,
      ].join("\n");
    const before = parseGcTotals(exposition(0.1, 10, 0, 0));
    const after = parseGcTotals(exposition(0.3, 30, 0.04, 2));
    assert.deepEqual(gcDuring(before, after, 2_000), {
      serverGcMsPerS: 120,
      serverScavenges: 20,
      serverMarkCompacts: 1,
      serverGcPausesOver10ms: 3,
    });
    assert.deepEqual(gcDuring(undefined, after, 2_000), {});
  });
});

describe("The bench's constant-rate loop", () => {
  it("starts every operation once, in order, never before its due time", async () => {
    const starts: { i: number; early: number }[] = [];
    const run = await constantRate("test", { ratePerSecond: 2_000, durationMs: 250 }, async (i, dueAt) => {
      starts.push({ i, early: dueAt - performance.now() });
    });
    assert.equal(run.ok, 500);
    assert.equal(run.errors, 0);
    assert.deepEqual(
      starts.map((s) => s.i),
      Array.from({ length: 500 }, (_, i) => i),
    );
    // The metronome's worker and this thread read one monotonic clock; allow for float rounding only.
    const earliest = Math.max(...starts.map((s) => s.early));
    assert.ok(earliest < 0.001, `an operation started ${earliest} ms before it was due`);
  });

  it("counts an operation that throws or rejects as an error and goes on", async () => {
    const run = await constantRate("test", { ratePerSecond: 1_000, durationMs: 50 }, (i) => {
      if (i === 3) throw new Error("thrown");
      return i === 7 ? Promise.reject(new Error("rejected")) : Promise.resolve();
    });
    assert.equal(run.ok, 48);
    assert.equal(run.errors, 2);
    assert.match(run.firstError ?? "", /thrown/);
  });
});
