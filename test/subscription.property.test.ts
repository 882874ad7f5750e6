import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ReadAfterResult } from "../gateway/src/core/engine.js";
import { SILENT_LOG } from "../gateway/src/core/log.js";
import { type Delivery, Gap, type StoredMessage } from "../gateway/src/core/message.js";
import { NO_OBSERVER } from "../gateway/src/core/observer.js";
import { type CatchUpSource, type GapPolicy, Subscription } from "../gateway/src/core/subscription.js";
import { LogThrottle } from "../gateway/src/process/log-throttle.js";

/**
 * The subscription state machine (live -> overflow -> catch-up -> live, with
 * retention trimming under it) driven by random interleavings of publishes,
 * trims and reads of random sizes. Whatever the interleaving, what the
 * client receives is every id after its start exactly once, in order, with
 * trimmed ranges either marked by Gaps ("mark") or ending the stream with
 * RESOURCE_EXHAUSTED ("fail"), and the buffer never grows past its bound.
 */
const SUBJECT = "s";
const MAX_BUFFERED = 4;
const PAGE = 3;

/** A subject's log with oldest-first trimming, read as the engines read it. */
class Log {
  lastId = 0;
  firstStored = 1;

  messages(from: number, to: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (let id = Math.max(from, this.firstStored); id <= to; id++) {
      out.push({ id, subject: SUBJECT, body: new Uint8Array(1), publishedAt: 0, expiresAt: 0 });
    }
    return out;
  }

  async readAfter(_subject: string, afterId: number, limit: number): Promise<ReadAfterResult> {
    await Promise.resolve(); // storage answers later, as a real engine does
    const from = Math.max(afterId + 1, this.firstStored);
    return { messages: this.messages(from, Math.min(this.lastId, from + limit - 1)), gap: from > afterId + 1 };
  }
}

type Step =
  | { kind: "publish"; count: number }
  | { kind: "trim"; keep: number }
  | { kind: "read"; count: number }
  | { kind: "settle" };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("publish" as const), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant("trim" as const), keep: fc.integer({ min: 0, max: 6 }) }),
  fc.record({ kind: fc.constant("read" as const), count: fc.integer({ min: 1, max: 10 }) }),
  fc.constant({ kind: "settle" as const }),
);

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function run(policy: GapPolicy, startAfter: number, steps: readonly Step[]): Promise<void> {
  const log = new Log();
  log.lastId = startAfter;
  const source: CatchUpSource = {
    readAfter: (subject, afterId, limit) => log.readAfter(subject, afterId, limit),
    lastId: async () => log.lastId,
    liveCursor: () => log.lastId,
  };
  const subscription = new Subscription(
    SUBJECT,
    { after: startAfter, live: true, gaps: policy },
    source,
    {
      maxBufferedBytes: 1 << 20,
      maxBufferedMessages: MAX_BUFFERED,
      catchUpPageSize: PAGE,
      retryBackoff: { baseMs: 1, maxMs: 1 },
      giveUpAfterMs: 1_000,
    },
    () => {},
    { observer: NO_OBSERVER, log: SILENT_LOG, throttle: new LogThrottle(10_000), now: Date.now },
  );
  const received: Delivery[] = [];
  const read = (count: number) => {
    for (let i = 0; i < count; i++) {
      const delivery = subscription.take();
      if (!delivery) return;
      received.push(delivery);
    }
  };
  for (const s of steps) {
    if (s.kind === "publish") {
      const first = log.lastId + 1;
      log.lastId += s.count;
      subscription.offer(log.messages(first, log.lastId));
    } else if (s.kind === "trim") {
      log.firstStored = Math.max(log.firstStored, log.lastId - s.keep + 1);
    } else if (s.kind === "read") {
      read(s.count);
    } else {
      await settle();
    }
    assert.ok(
      subscription.bufferedMessageCount <= Math.max(MAX_BUFFERED, PAGE),
      `buffered ${subscription.bufferedMessageCount} messages`,
    );
  }
  // The client now reads everything that is left.
  for (let rounds = 0; rounds < 10_000 && !subscription.ended; rounds++) {
    read(100);
    const last = received.at(-1);
    const through = last instanceof Gap ? last.lastId : (last?.id ?? startAfter);
    if (through >= log.lastId && subscription.isLive) break;
    await settle();
  }

  // Every id after the start, once, in order: messages and gap ranges tile (start, end].
  let next = startAfter + 1;
  for (const delivery of received) {
    if (delivery instanceof Gap) {
      assert.equal(policy, "mark", "a Gap only for subscriptions that asked for markers");
      assert.equal(delivery.firstId, next, `gap starts at ${delivery.firstId}, expected ${next}`);
      assert.ok(delivery.lastId >= delivery.firstId);
      assert.ok(delivery.lastId < log.firstStored, "a gap covers only ids that are no longer stored");
      next = delivery.lastId + 1;
    } else {
      assert.equal(delivery.id, next, `message ${delivery.id}, expected ${next}`);
      next += 1;
    }
  }
  if (subscription.ended) {
    assert.equal(policy, "fail", "a marking subscription never ends by itself");
    assert.equal(subscription.error?.code, "resource_exhausted");
    assert.ok(next < log.firstStored, "it ended only because its next id was trimmed");
  } else {
    assert.equal(next - 1, log.lastId, "caught up to the last id");
    subscription.end();
  }
}

describe("A subscription under random publishes, trims and reads", () => {
  for (const policy of ["mark", "fail"] as const) {
    it(`delivers every id once and in order (${policy} policy)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 5 }), fc.array(step, { maxLength: 60 }), (startAfter, steps) =>
          run(policy, startAfter, steps),
        ),
        { numRuns: 300 },
      );
    });
  }
});
