import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Broker } from "../gateway/src/core/broker.js";
import { BrokerError } from "../gateway/src/core/errors.js";
import { Gap, type StoredMessage } from "../gateway/src/core/message.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "../gateway/src/core/subscription.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "../gateway/src/engines/memory/memory-engine.js";
import { bytes } from "./support/streams.js";

function brokerWith(maxMessagesPerSubject: number): Broker {
  const engine = new MemoryEngine({ ...DEFAULT_MEMORY_OPTIONS, maxMessagesPerSubject });
  return new Broker(engine, {
    subscriptions: { ...DEFAULT_SUBSCRIPTION_OPTIONS, maxBufferedMessages: 5, catchUpPageSize: 7 },
  });
}

async function publish(broker: Broker, subject: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await broker.publish({ subject, body: bytes(`m${i}`), expirationSeconds: 0 });
}

describe("a subscription whose client reads slowly", () => {
  it("stops buffering at its bound, then catches up from storage in order", async () => {
    const broker = brokerWith(1_000);
    const subscription = await broker.subscribe("slow");
    await publish(broker, "slow", 50);
    assert.ok(subscription.bufferedMessageCount <= 5, `buffered ${subscription.bufferedMessageCount}`);
    assert.equal(subscription.isLive, false);
    const ids: number[] = [];
    for await (const delivery of subscription) {
      ids.push((delivery as StoredMessage).id);
      if (ids.length === 50) break;
    }
    assert.deepEqual(
      ids,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    await broker.close();
  });

  it("goes live again after catching up and receives what follows", async () => {
    const broker = brokerWith(1_000);
    const subscription = await broker.subscribe("again");
    await publish(broker, "again", 20);
    for (let id = 1; id <= 20; id++) assert.equal(((await subscription.next()).value as StoredMessage).id, id);
    assert.equal(subscription.isLive, true);
    await publish(broker, "again", 3);
    assert.equal(subscription.bufferedMessageCount, 3, "live again: the fan-out buffers new messages");
    for (let id = 21; id <= 23; id++) assert.equal(((await subscription.next()).value as StoredMessage).id, id);
    await subscription.return();
    assert.equal(broker.subscriptionCount, 0, "closing releases the fan-out");
    await broker.close();
  });

  it("ends with RESOURCE_EXHAUSTED when storage no longer holds its next message", async () => {
    const broker = brokerWith(10);
    const subscription = await broker.subscribe("behind");
    await publish(broker, "behind", 40);
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const delivery of subscription) seen.push((delivery as StoredMessage).id);
      })(),
      (err: unknown) =>
        err instanceof BrokerError && err.code === "resource_exhausted" && /fell behind retention/.test(err.message),
    );
    assert.deepEqual(seen, [1, 2, 3, 4, 5], "it delivered what it had buffered first");
    assert.equal(broker.subscriptionCount, 0);
    await broker.close();
  });

  it("yields a Gap instead when it was resumed, and goes on", async () => {
    const broker = brokerWith(10);
    await publish(broker, "resumed", 40);
    const subscription = await broker.subscribe("resumed", { resumeAfterId: 0 });
    const first = (await subscription.next()).value;
    assert.ok(first instanceof Gap);
    assert.deepEqual([first.firstId, first.lastId], [1, 30]);
    const next = (await subscription.next()).value as StoredMessage;
    assert.equal(next.id, 31);
    await subscription.return();
    await broker.close();
  });

  it("ends normally when the broker drains, and new calls are refused", async () => {
    const broker = brokerWith(10);
    const subscription = await broker.subscribe("drain");
    const ended = (async () => {
      for await (const _ of subscription) {
        // nothing is published
      }
      return "ended";
    })();
    await broker.close();
    assert.equal(await ended, "ended");
    await assert.rejects(
      broker.subscribe("drain"),
      (err: unknown) => err instanceof BrokerError && err.code === "unavailable",
    );
  });
});
