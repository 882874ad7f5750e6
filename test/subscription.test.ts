import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Broker } from "../gateway/src/core/broker.js";
import { BrokerError } from "../gateway/src/core/errors.js";
import { type Delivery, Gap, type StoredMessage } from "../gateway/src/core/message.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS, type Subscription } from "../gateway/src/core/subscription.js";
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

/**
 * Takes deliveries synchronously whenever the subscription says it is
 * readable, as the gRPC transport does, until `count` arrived or it ended.
 */
function drainInto(subscription: Subscription, count: number): Promise<Delivery[]> {
  const taken: Delivery[] = [];
  return new Promise((resolve) => {
    const pump = () => {
      for (let d = subscription.take(); d; d = subscription.take()) taken.push(d);
      if (taken.length >= count || subscription.ended) resolve(taken);
    };
    subscription.onReadable(pump);
    pump();
  });
}

const idsOf = (deliveries: readonly Delivery[]) => deliveries.map((d) => (d as StoredMessage).id);

describe("a subscription taken synchronously", () => {
  it("wakes its consumer when messages are offered, and take() hands them over in order, then nothing", async () => {
    const broker = brokerWith(1_000);
    const subscription = await broker.subscribe("take");
    let wakes = 0;
    subscription.onReadable(() => {
      wakes += 1;
    });
    assert.equal(subscription.take(), undefined, "nothing buffered yet");
    await publish(broker, "take", 3);
    assert.equal(wakes, 3, "one wake-up per offered message, before publish returned");
    assert.deepEqual(idsOf([subscription.take(), subscription.take(), subscription.take()] as Delivery[]), [1, 2, 3]);
    assert.equal(subscription.take(), undefined);
    assert.equal(subscription.isLive, true);
    subscription.end();
    await broker.close();
  });

  it("starts a catch-up read only when the consumer finds its buffer empty, and wakes it when the page lands", async () => {
    const broker = brokerWith(1_000);
    const subscription = await broker.subscribe("behind");
    await publish(broker, "behind", 30);
    assert.equal(subscription.isLive, false);
    assert.deepEqual(
      idsOf(Array.from({ length: 5 }, () => subscription.take()) as Delivery[]),
      [1, 2, 3, 4, 5],
      "the buffered messages come first",
    );
    const woken = new Promise<void>((resolve) => subscription.onReadable(resolve));
    assert.equal(subscription.take(), undefined, "the page is read asynchronously");
    await woken;
    assert.equal(subscription.bufferedMessageCount, 7, "one catch-up page (catchUpPageSize 7) was queued");
    const rest = await drainInto(subscription, 25);
    assert.deepEqual(
      idsOf(rest),
      Array.from({ length: 25 }, (_, i) => i + 6),
    );
    assert.equal(subscription.isLive, true, "caught up: live again");
    subscription.onReadable(() => {});
    await publish(broker, "behind", 1);
    assert.equal((subscription.take() as StoredMessage).id, 31);
    subscription.end();
    await broker.close();
  });

  it("wakes its consumer when it fails behind retention, with the error to send", async () => {
    const broker = brokerWith(10);
    const subscription = await broker.subscribe("retention");
    await publish(broker, "retention", 40);
    const taken = await drainInto(subscription, Number.POSITIVE_INFINITY);
    assert.deepEqual(idsOf(taken), [1, 2, 3, 4, 5]);
    assert.equal(subscription.ended, true);
    assert.equal(subscription.error?.code, "resource_exhausted");
    assert.equal(subscription.take(), undefined);
    assert.equal(broker.subscriptionCount, 0);
    await broker.close();
  });

  it("takes a Gap for what storage no longer holds when resumed", async () => {
    const broker = brokerWith(10);
    await publish(broker, "resumed-take", 40);
    const subscription = await broker.subscribe("resumed-take", { resumeAfterId: 0 });
    const [gap, ...messages] = await drainInto(subscription, 11);
    assert.ok(gap instanceof Gap);
    assert.deepEqual([gap.firstId, gap.lastId], [1, 30]);
    assert.deepEqual(
      idsOf(messages),
      Array.from({ length: 10 }, (_, i) => i + 31),
    );
    subscription.end();
    await broker.close();
  });

  it("wakes its consumer when it ends normally, without an error", async () => {
    const broker = brokerWith(10);
    const subscription = await broker.subscribe("ends");
    const taken = drainInto(subscription, Number.POSITIVE_INFINITY);
    await broker.close();
    assert.deepEqual(await taken, []);
    assert.equal(subscription.ended, true);
    assert.equal(subscription.error, undefined);
  });

  it("ends only its own subscription when a consumer's wake-up throws; the others still receive", async () => {
    const broker = brokerWith(1_000);
    const broken = await broker.subscribe("shared");
    const healthy = await broker.subscribe("shared");
    broken.onReadable(() => {
      throw new Error("the call is gone");
    });
    const received = drainInto(healthy, 3);
    await publish(broker, "shared", 3);
    assert.deepEqual(idsOf(await received), [1, 2, 3]);
    assert.equal(broken.ended, true);
    assert.equal(broken.error?.code, "internal");
    assert.equal(broker.subscriptionCount, 1, "the broken one left the fan-out");
    healthy.end();
    await broker.close();
  });
});
