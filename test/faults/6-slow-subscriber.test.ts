import { after, describe, it } from "node:test";
import { residentBytes } from "../support/gateway-process.js";
import { Load, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

/** Growth of the gateway's memory while one subscriber reads nothing, beyond which it is not bounded. */
const MAX_GROWTH_MIB = 64;

/**
 * Every scenario runs a slow subscriber (reading 1 s out of 4) and checks it
 * catches up; this one stops reading altogether for 15 s while Redis restarts
 * and the archiver trims Redis to 100 messages per subject, so its catch-up
 * must come from PostgreSQL.
 */
describe("scenario 6: a subscriber that stops reading during faults", () => {
  let stack: FaultStack | undefined;
  after(async () => {
    await stack?.stop();
  });

  it("keeps the gateway's memory bounded, then catches up from the archive or gets an explicit gap", async (t) => {
    stack = await startFaultStack({ appendfsync: "always", archive: true });
    const { redis, gateway } = stack;
    // The slow subscriber reads nothing for its first 15 s.
    const load = new Load(gateway, {}, { pauseMs: 15_000, periodMs: 3_600_000 });
    await load.start();
    await sleep(1_000);
    const baselineMiB = Math.round(residentBytes(gateway.pids().primary) / 2 ** 20);
    await sleep(4_000);
    load.mark(t, "Redis SHUTDOWN and restart while the slow subscriber reads nothing");
    await redis.shutdown();
    await sleep(2_000);
    await redis.startServer();
    await sleep(9_000);
    load.mark(t, "the slow subscriber reads again");
    await sleep(3_000);
    const findings = await load.finish();
    const growthMiB = findings.counts.peakRssMiB - baselineMiB;
    const broken = brokenPromises(findings.counts);
    if (growthMiB > MAX_GROWTH_MIB) broken.push(`the gateway grew ${growthMiB} MiB while a subscriber read nothing`);
    verdict(t, "scenario 6 (slow subscriber: 15 s without reading, Redis restart, hot window 100)", findings, broken, {
      baselineRssMiB: baselineMiB,
      rssGrowthMiB: growthMiB,
      slowDelivered: load.slow.deliveries.length,
    });
  });
});
