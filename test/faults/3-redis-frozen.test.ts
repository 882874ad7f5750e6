import { after, describe, it } from "node:test";
import { Load, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 3: Redis frozen (SIGSTOP 10 s) under load", () => {
  let stack: FaultStack | undefined;
  after(async () => {
    await stack?.stop();
  });

  it("fails calls with a deadline or UNAVAILABLE, hangs nothing, and recovers after SIGCONT", async (t) => {
    stack = await startFaultStack({ appendfsync: "always" });
    const { redis, gateway } = stack;
    const load = new Load(gateway);
    await load.start();
    await sleep(4_000);
    load.mark(t, "Redis SIGSTOP");
    const frozenAt = Date.now();
    redis.freeze();
    await sleep(10_000);
    redis.thaw();
    const thawedAt = Date.now();
    load.mark(t, "Redis SIGCONT");
    await sleep(5_000);
    const findings = await load.finish();
    const firstAckAfterThaw = load.publisher.acks.find((ack) => ack.ackedAt >= thawedAt)?.ackedAt;
    const failuresWhileFrozen = load.publisher.failures.filter((f) => f.start >= frozenAt && f.end <= thawedAt);
    const broken = brokenPromises(findings.counts);
    if (failuresWhileFrozen.length === 0) broken.push("no call failed while Redis was frozen");
    if (firstAckAfterThaw === undefined) broken.push("no publish succeeded after SIGCONT");
    verdict(t, "scenario 3 (Redis SIGSTOP 10 s)", findings, broken, {
      recoverySeconds: firstAckAfterThaw === undefined ? "never" : (firstAckAfterThaw - thawedAt) / 1000,
      failedWhileFrozen: failuresWhileFrozen.length,
    });
  });
});
