import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { FaultRedis } from "./harness/fault-redis.js";
import { FaultGateway } from "./harness/gateway.js";
import { Load, sleep } from "./harness/load.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 1: gateway processes killed under load (WORKERS=2, Redis AOF always)", () => {
  let redis: FaultRedis | undefined;
  let gateway: FaultGateway | undefined;
  after(async () => {
    await gateway?.stop();
    await redis?.destroy();
  });

  it("loses, repeats and reuses nothing across kill -9 of a worker, of the whole gateway, and a drain", async (t) => {
    redis = await FaultRedis.start("always");
    const gw = await FaultGateway.start({ REDIS_URL: redis.url }, 2);
    gateway = gw;
    const load = new Load(gw, () => gw.sampleMemory());
    await load.start();
    let drainMs = 0;
    try {
      await sleep(4_000);
      const victim = await gw.killOneWorker();
      load.mark(t, `killed worker ${victim} (-9); the primary's replacement listens`);
      await sleep(4_000);
      load.mark(t, "kill -9 of the primary and every worker");
      await gw.killAll();
      await sleep(1_000);
      await gw.restart();
      load.mark(t, "gateway listening again");
      await sleep(4_000);
      load.mark(t, "SIGTERM (drain)");
      const drained = await gw.drain();
      drainMs = drained.ms;
      load.mark(t, `drained: exit ${drained.code} after ${drained.ms} ms`);
      assert.equal(drained.code, 0, "a drained gateway exits 0");
      await gw.restart();
      load.mark(t, "gateway listening again after the drain");
      await sleep(4_000);
    } catch (err) {
      await load.abandon();
      throw err;
    }
    const findings = await load.finish(() => gw.peakRssBytes);
    verdict(t, "scenario 1 (gateway kill -9 worker / all / drain)", findings, brokenPromises(findings.counts), {
      drainMs,
    });
  });
});
