import { after, before, describe, it, type TestContext } from "node:test";
import type { Fsync } from "./harness/fault-redis.js";
import { Load, SUBJECTS, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

/**
 * One Redis with AOF and one gateway (WORKERS=1); each case has its own
 * subjects and its own load, and restarts Redis its own way.
 */
describe("scenario 2: Redis restarted under load (AOF)", () => {
  let stack: FaultStack;
  before(async () => {
    stack = await startFaultStack({ appendfsync: "always" });
  });
  after(async () => {
    await stack?.stop();
  });

  /** Sets appendfsync, then starts a load on the case's own subjects. */
  const startLoad = async (tag: string, fsync: Fsync) => {
    await stack.redis.setFsync(fsync);
    const load = new Load(stack.gateway, { subjects: SUBJECTS.map((subject) => `${tag}-${subject}`) });
    await load.start();
    return load;
  };

  /** Redis stays down 2 s, starts again from its AOF, and the load runs 4 s more before counting. */
  const restartAndFinish = async (t: TestContext, load: Load, loaded = "AOF loaded") => {
    await sleep(2_000);
    await stack.redis.startServer();
    load.mark(t, `Redis answers PING again (${loaded})`);
    await sleep(4_000);
    return load.finish();
  };

  it("2a: SHUTDOWN and restart (appendfsync always) loses nothing acknowledged", async (t) => {
    const load = await startLoad("shutdown", "always");
    await sleep(4_000);
    load.mark(t, "Redis SHUTDOWN");
    await stack.redis.shutdown();
    const findings = await restartAndFinish(t, load);
    verdict(t, "scenario 2a (Redis SHUTDOWN + restart, AOF always)", findings, brokenPromises(findings.counts));
  });

  it("2b: kill -9 with appendfsync everysec loses at most ~1 s of writes, and shows it", async (t) => {
    const load = await startLoad("everysec", "everysec");
    await sleep(4_000);
    load.mark(t, "Redis kill -9 (appendfsync everysec)");
    const killedAt = Date.now();
    await stack.redis.kill();
    const findings = await restartAndFinish(t, load);
    // everysec's promise: what was acknowledged in the last second (plus the fsync in flight) before the kill.
    const window = load.publisher.acks.filter((ack) => ack.ackedAt > killedAt - 2_000 && ack.ackedAt <= killedAt);
    verdict(
      t,
      "scenario 2b (Redis kill -9, AOF everysec)",
      findings,
      brokenPromises(findings.counts, { mayLose: window.length }),
      { lossAllowance: window.length },
    );
  });

  it("2d: an OS crash with appendfsync everysec (the AOF's last second cut) loses at most that second, shows it, reuses no id", async (t) => {
    const { redis } = stack;
    const load = await startLoad("crash", "everysec");
    await sleep(3_000);
    // The file as fsynced by everysec's last fsync: what one second of writes after it lose in an OS crash.
    const fsyncedBytes = redis.aofBytes();
    const fsyncedAt = Date.now();
    await sleep(1_000);
    // On a starved machine Redis may postpone its AOF writes: wait until the cut will remove something.
    for (let i = 0; i < 100 && redis.aofBytes() <= fsyncedBytes; i++) await sleep(100);
    const crashAt = Date.now();
    const tail = await redis.crash(fsyncedBytes);
    load.mark(t, `Redis kill -9, AOF cut back ${tail.length} bytes to its size ${crashAt - fsyncedAt} ms earlier`);
    const findings = await restartAndFinish(t, load, "truncated AOF loaded");
    // What the crash may lose: exactly the acknowledged messages whose XADD was in the cut bytes (bodies
    // start with the key and a space). Client clocks cannot tell: under everysec Redis may acknowledge a
    // write before it even reaches the file when an fsync is slow.
    const inTail = new Set(load.publisher.acks.filter((ack) => tail.includes(`${ack.key} `)).map((ack) => ack.key));
    const broken = brokenPromises(findings.counts, { mayLose: inTail.size });
    const beyond = findings.lost.filter((ack) => !inTail.has(ack.key));
    if (beyond.length > 0) broken.push(`${beyond.length} lost that were not in the cut part of the AOF`);
    if (tail.length === 0) broken.push("nothing was written in the cut second: the crash was not exercised");
    verdict(t, "scenario 2d (OS crash: kill -9 + last second of the everysec AOF lost)", findings, broken, {
      lossAllowance: inTail.size,
      aofBytesCut: tail.length,
      cutMs: crashAt - fsyncedAt,
    });
  });

  it("2c: kill -9 with appendfsync always loses nothing acknowledged", async (t) => {
    const load = await startLoad("always", "always");
    await sleep(4_000);
    load.mark(t, "Redis kill -9 (appendfsync always)");
    await stack.redis.kill();
    const findings = await restartAndFinish(t, load);
    verdict(t, "scenario 2c (Redis kill -9, AOF always)", findings, brokenPromises(findings.counts));
  });
});
