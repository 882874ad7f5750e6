import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay } from "../gateway/src/process/backoff.js";
import { LogThrottle } from "../gateway/src/process/log-throttle.js";

describe("backoff: exponential with jitter and a cap", () => {
  const policy = { baseMs: 100, maxMs: 1_000 };

  it("doubles from the base per attempt up to the cap, at the top of the jitter range", () => {
    const top = (attempt: number) => backoffDelay(policy, attempt, () => 1);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 40].map(top), [100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it("never waits less than half the nominal wait (equal jitter)", () => {
    const bottom = (attempt: number) => backoffDelay(policy, attempt, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(bottom), [50, 100, 200, 400, 500, 500]);
  });

  it("spreads the waits of retries that fail together", () => {
    const waits = new Set(Array.from({ length: 50 }, () => backoffDelay(policy, 4)));
    assert.ok(waits.size > 10, `only ${waits.size} distinct waits among 50`);
    for (const wait of waits) assert.ok(wait >= 400 && wait <= 800, `wait ${wait}`);
  });

  it("treats attempt 0 or less as the first", () => {
    assert.equal(
      backoffDelay(policy, 0, () => 1),
      100,
    );
  });
});

describe("log throttle: a repeated failure logs once per interval", () => {
  it("lets the first occurrence through, holds back repeats within the interval and counts them", () => {
    let now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    assert.deepEqual(throttle.admit("redis down"), { log: true, suppressed: 0 });
    for (let i = 0; i < 99; i++) {
      now += 50;
      assert.deepEqual(throttle.admit("redis down"), { log: false });
    }
    now = 10_000;
    assert.deepEqual(throttle.admit("redis down"), { log: true, suppressed: 99 });
    assert.deepEqual(throttle.admit("redis down"), { log: false });
  });

  it("throttles each key on its own, and logs at once again after a reset", () => {
    const throttle = new LogThrottle(10_000, () => 0);
    assert.equal(throttle.admit("a").log, true);
    assert.equal(throttle.admit("b").log, true);
    assert.equal(throttle.admit("a").log, false);
    throttle.reset("a");
    assert.deepEqual(throttle.admit("a"), { log: true, suppressed: 0 });
  });
});
