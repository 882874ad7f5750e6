import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { Code } from "@connectrpc/connect";
import { Broker } from "../gateway/src/core/broker.js";
import { MemoryEngine } from "../gateway/src/engines/memory/memory-engine.js";
import { rejectsWith } from "./support/assertions.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { ROOT } from "./support/node-process.js";
import { bytes } from "./support/streams.js";

const run = promisify(execFile);

/** Runs test/support/memory-churn.ts in a process of its own and returns what it printed. */
async function churnProcess(...args: string[]): Promise<Record<string, number>> {
  const { stdout } = await run(
    process.execPath,
    ["--expose-gc", "--import", "tsx", "test/support/memory-churn.ts", ...args],
    { cwd: ROOT, timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split("\n").pop() as string) as Record<string, number>;
}

describe("the memory engine stays bounded under any number of subjects", () => {
  it("stops an empty-body flood on 1 KiB subjects at MEMORY_MAX_BYTES, counting subjects and overhead", async () => {
    const budget = 8 * 1024 * 1024;
    const engine = new MemoryEngine({ maxRetainedBytes: budget, maxSubjects: 1_000_000 });
    try {
      const empty = new Uint8Array(0);
      const subject = (i: number) => `${String(i).padStart(8, "0")}${"s".repeat(1016)}`;
      const flood = 50_000;
      for (let i = 0; i < flood; i++) await engine.append(subject(i), empty, Date.now() + 3_600_000);
      assert.ok(engine.bytesRetained <= budget, `accounted ${engine.bytesRetained} B, budget ${budget} B`);
      // Each subject holds 1 KiB of characters plus overhead, so at most budget / 1 KiB of them remain.
      assert.ok(engine.subjectCount < budget / 1024, `${engine.subjectCount} subjects retained`);
      assert.ok(engine.subjectCount > 1_000, "the newest subjects are still there");
      // The oldest went first; the newest is there; the evicted subject's ids are not reused.
      assert.equal(await engine.get(subject(0), 1), undefined);
      assert.ok(await engine.get(subject(flood - 1), 1));
      assert.equal(await engine.lastId(subject(0)), 1);
      assert.equal((await engine.append(subject(0), empty, Date.now() + 60_000)).id, 2);
    } finally {
      await engine.close();
    }
  });

  it("accounts what a message and a subject take on the heap (measured in a process of its own)", async () => {
    for (const bodyBytes of ["0", "16"]) {
      const { stdout } = await run(
        process.execPath,
        ["--expose-gc", "--import", "tsx", "test/support/memory-churn.ts", "costs", "20000"],
        { cwd: ROOT, timeout: 120_000, env: { ...process.env, COSTS_BODY_BYTES: bodyBytes } },
      );
      const costs = JSON.parse(stdout.trim()) as Record<string, number>;
      const within = (accounted: number, measured: number) => Math.abs(accounted - measured) / measured < 0.25;
      assert.ok(within(costs.accountedPerMessage as number, costs.perMessage as number), JSON.stringify(costs));
      assert.ok(
        within(costs.accountedPerSubjectWithMessage as number, costs.perSubjectWithMessage as number),
        JSON.stringify(costs),
      );
    }
  });

  it("deletes a subject whose messages all expired and continues its ids above the last one", async () => {
    let now = 1_000_000;
    const engine = new MemoryEngine({ now: () => now });
    const broker = new Broker(engine, { now: () => now });
    try {
      for (let i = 0; i < 3; i++) await broker.publish({ subject: "gone", body: bytes(`m${i}`), expirationSeconds: 1 });
      await broker.publish({ subject: "gone-ff", body: bytes("ff"), expirationSeconds: 0 });
      now += 1_500;
      engine.releaseExpired();
      assert.equal(engine.subjectCount, 1, "the fire-and-forget message stays for the catch-up time");
      now += 60_000;
      engine.releaseExpired();
      assert.equal(engine.subjectCount, 0);
      assert.equal(engine.bytesRetained, 0, "nothing is accounted once everything is released");
      assert.equal(await engine.lastId("gone"), 3);
      await assert.rejects(broker.fetch("gone", 2), /expired or is no longer retained/);
      await assert.rejects(broker.fetch("gone", 4), /unknown id/);
      assert.equal((await broker.publish({ subject: "gone", body: bytes("again"), expirationSeconds: 60 })).id, 4);
      assert.equal((await broker.publish({ subject: "gone-ff", body: bytes("again"), expirationSeconds: 60 })).id, 2);
    } finally {
      await broker.close();
    }
  });

  it("sweeps only the subjects that are due, however many others there are", async () => {
    let now = 1_000_000;
    const engine = new MemoryEngine({ now: () => now, maxSubjects: 1_000_000 });
    try {
      const empty = new Uint8Array(0);
      for (let i = 0; i < 100_000; i++) await engine.append(`long.${i}`, empty, now + 3_600_000);
      for (let i = 0; i < 10; i++) await engine.append(`short.${i}`, empty, now + 1_000);
      now += 2_000;
      engine.releaseExpired();
      assert.equal(engine.subjectCount, 100_000, "the ten due subjects went");
      // A sweep with nothing due costs a heap peek; a walk over 100,000 subjects would take milliseconds.
      let fastestMs = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 5; i++) {
        now += 1_000;
        const started = process.hrtime.bigint();
        engine.releaseExpired();
        fastestMs = Math.min(fastestMs, Number(process.hrtime.bigint() - started) / 1e6);
      }
      assert.ok(fastestMs < 0.5, `the sweep took ${fastestMs.toFixed(3)} ms`);
    } finally {
      await engine.close();
    }
  });

  it("refuses a subject beyond MAX_SUBJECTS with RESOURCE_EXHAUSTED naming the limit", async () => {
    const gateway = await startGateway("memory", { maxSubjects: 3 });
    try {
      const client = brokerClient(gateway.gateway, "grpc");
      for (const subject of ["one", "two", "three"])
        await client.publish({ subject, body: bytes("x"), expirationSeconds: 60 });
      await rejectsWith(
        client.publish({ subject: "four", body: bytes("x"), expirationSeconds: 60 }),
        Code.ResourceExhausted,
        /subject limit reached: 3 subjects hold messages and MAX_SUBJECTS is 3/,
      );
      // Existing subjects take more.
      assert.equal((await client.publish({ subject: "one", body: bytes("y"), expirationSeconds: 60 })).id, 2n);
    } finally {
      await gateway.stop();
    }
  });

  it("gives the memory back: RSS returns within 15% after 100,000 short-lived subjects expire", async () => {
    const result = await churnProcess("churn", "100000");
    assert.equal(result.subjectsAtPeak, 100_000);
    assert.equal(result.subjectsAfter, 0);
    assert.equal(result.bytes, 0);
    const before = result.before as number;
    const after = result.after as number;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    console.log(`memory engine RSS: before ${mb(before)}, peak ${mb(result.peak as number)}, after ${mb(after)}`);
    assert.ok((result.peak as number) > before * 1.3, "the churn did take memory");
    // Node 20 (the target runtime) hands the freed pages back to the system. Node 24 keeps them mapped
    // although its heap shrinks back (measured: RSS 77 -> 187 MB while the heap went 8.0 -> 9.9 MB):
    // there the engine's own release is checked on the heap, which is what it controls: at least 95%
    // of what the churn took is given back.
    if (process.versions.node.startsWith("20.")) {
      assert.ok(after <= before * 1.15, `RSS ${mb(after)} after, ${mb(before)} before`);
    } else {
      const { heapBefore, heapPeak, heapAfter } = result as Record<string, number>;
      const kept = (heapAfter as number) - (heapBefore as number);
      const taken = (heapPeak as number) - (heapBefore as number);
      assert.ok(
        kept <= taken * 0.05,
        `heap ${mb(heapBefore as number)} -> ${mb(heapPeak as number)} -> ${mb(heapAfter as number)}`,
      );
    }
  });
});
