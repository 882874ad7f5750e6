import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Load, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 1: gateway processes killed under load (WORKERS=2, Redis AOF always)", () => {
  let stack: FaultStack | undefined;
  after(async () => {
    await stack?.stop();
  });

  it("loses, repeats and reuses nothing across kill -9 of a worker, of the whole gateway, and a drain", async (t) => {
    stack = await startFaultStack({ appendfsync: "always", workers: 2 });
    const { gateway } = stack;
    const load = new Load(gateway);
    await load.start();
    let drainMs = 0;
    try {
      await sleep(4_000);
      const victim = await gateway.killOneWorker();
      load.mark(t, `killed worker ${victim} (-9); the primary's replacement listens`);
      await sleep(4_000);
      load.mark(t, "kill -9 of the primary and every worker");
      await gateway.killAll();
      await sleep(1_000);
      await gateway.restart();
      load.mark(t, "gateway listening again");
      await sleep(4_000);
      load.mark(t, "SIGTERM (drain)");
      const drained = await gateway.drain();
      drainMs = drained.ms;
      load.mark(t, `drained: exit ${drained.code} after ${drained.ms} ms`);
      assert.equal(drained.code, 0, "a drained gateway exits 0");
      await gateway.restart();
      load.mark(t, "gateway listening again after the drain");
      await sleep(4_000);
    } catch (err) {
      await load.abandon();
      throw err;
    }
    const findings = await load.finish();
    verdict(t, "scenario 1 (gateway kill -9 worker / all / drain)", findings, brokenPromises(findings.counts), {
      drainMs,
    });
  });
});
