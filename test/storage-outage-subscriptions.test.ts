import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../gateway/gen/google/rpc/error_details_pb.js";
import { BrokerError } from "../gateway/src/core/errors.js";
import type { Delivery } from "../gateway/src/core/message.js";
import { NO_OBSERVER } from "../gateway/src/core/observer.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS, Subscription } from "../gateway/src/core/subscription.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { LogThrottle } from "../gateway/src/process/log-throttle.js";
import { brokerClient, type Ports } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { captureLog } from "./support/log-capture.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, sleep, subscribeLive } from "./support/streams.js";

const GIVE_UP_MS = 1_500;
/** How much later than the bound a subscription may end (retry waits are at most 1 s, plus shutdown noise). */
const SLACK_MS = 2_500;

describe("live subscriptions whose Redis reader cannot read end with UNAVAILABLE after the bound", () => {
  const { log, lines } = captureLog();
  let redis: PrivateRedis;
  let ports: Ports;
  let stop: () => Promise<void>;

  before(async () => {
    redis = await PrivateRedis.start();
    const started = await startGateway(
      "redis",
      { redisUrl: redis.url, subscriberStorageTimeoutMs: GIVE_UP_MS },
      { log },
    );
    ports = started.gateway;
    stop = started.stop;
  });
  after(async () => {
    await redis?.startServer();
    await stop?.();
    await redis?.destroy();
  });

  it("ends open streams on gRPC and Connect with STORAGE_UNAVAILABLE, not left open and silent", async () => {
    const grpc = await subscribeLive(brokerClient(ports, "grpc"), "outage");
    const connect = await subscribeLive(brokerClient(ports, "connect"), "outage");
    await brokerClient(ports, "grpc").publish({ subject: "outage", body: bytes("before"), expirationSeconds: 60 });
    await grpc.waitFor(1);
    await connect.waitFor(1);

    const stoppedAt = Date.now();
    await redis.stopServer();
    for (const stream of [grpc, connect]) {
      const err = await stream.finished;
      const elapsed = Date.now() - stoppedAt;
      assert.ok(err instanceof ConnectError, `the stream ended with ${String(err)}`);
      assert.equal(Code[err.code], "Unavailable", err.rawMessage);
      assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, "STORAGE_UNAVAILABLE");
      assert.match(err.rawMessage, /^storage unavailable for \d+ s: the subscription on subject 'outage' ended/);
      assert.ok(elapsed >= GIVE_UP_MS - 100, `ended after ${elapsed} ms, before the bound`);
      assert.ok(elapsed < GIVE_UP_MS + SLACK_MS, `ended only after ${elapsed} ms`);
    }
    const ended = lines.filter((l) => l.msg === "live reads kept failing: subscriptions ended");
    assert.equal(ended.length, 1, "one line for the subject's subscriptions");
    assert.equal(ended[0]?.subject, "outage");
    const readFailures = lines.filter((l) => l.operation === "live read");
    assert.ok(readFailures.length >= 1 && readFailures.length <= 2, `${readFailures.length} live-read lines`);
  });
});

describe("a catch-up read that keeps failing backs off, is logged, and ends the subscription after the bound", () => {
  let redis: PrivateRedis;
  let engine: RedisEngine;
  const subject = "catching-up";

  before(async () => {
    redis = await PrivateRedis.start({ appendonly: true });
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: redis.url, readerConnections: 1, log: captureLog().log });
    await engine.ready();
    for (const body of ["a", "b", "c"]) await engine.append(subject, bytes(body), Date.now() + 60_000);
  });
  after(async () => {
    await engine?.close();
    await redis?.destroy();
  });

  /** A subscription starting in catch-up from id 0 (three messages behind), counting its storage reads. */
  function catchingUp(giveUpAfterMs: number) {
    const { log, lines } = captureLog();
    let reads = 0;
    const source = {
      readAfter: (s: string, after: number, limit: number) => {
        reads += 1;
        return engine.readAfter(s, after, limit);
      },
      lastId: (s: string) => engine.lastId(s),
      liveCursor: () => 3,
    };
    const subscription = new Subscription(
      subject,
      { after: 0, live: false, gaps: "mark" },
      source,
      { ...DEFAULT_SUBSCRIPTION_OPTIONS, giveUpAfterMs, retryBackoff: { baseMs: 50, maxMs: 400 } },
      () => {},
      { observer: NO_OBSERVER, log, throttle: new LogThrottle(10_000), now: Date.now },
    );
    return { subscription, lines, reads: () => reads };
  }

  async function takeAll(subscription: Subscription, count: number): Promise<Delivery[]> {
    const taken: Delivery[] = [];
    for (let i = 0; i < count; i++) {
      const next = await subscription.next();
      if (next.done) break;
      taken.push(next.value);
    }
    return taken;
  }

  it("retries with growing waits while Redis is down, then ends with UNAVAILABLE (STORAGE_UNAVAILABLE)", async () => {
    await redis.stopServer();
    try {
      const { subscription, lines, reads } = catchingUp(1_000);
      const started = Date.now();
      await assert.rejects(subscription.next(), (err: unknown) => {
        assert.ok(err instanceof BrokerError);
        assert.equal(err.code, "unavailable");
        assert.equal(err.reason, "STORAGE_UNAVAILABLE");
        return true;
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 950 && elapsed < 2_000, `ended after ${elapsed} ms`);
      // Waits of about 50, 100, 200, 400, 400 ms (with jitter, capped): a handful of reads, not a busy loop.
      assert.ok(reads() >= 3 && reads() <= 10, `${reads()} reads in ${elapsed} ms`);
      assert.equal(lines.filter((l) => l.msg === "catch-up read failed (storage unavailable); retrying").length, 1);
      assert.equal(lines.filter((l) => /subscription ended with UNAVAILABLE/.test(l.msg)).length, 1);
    } finally {
      await redis.startServer();
    }
  });

  it("carries on where it stopped when Redis is back within the bound", async () => {
    await redis.stopServer();
    const { subscription } = catchingUp(10_000);
    const taking = takeAll(subscription, 3);
    await sleep(500);
    await redis.startServer();
    const taken = await taking;
    assert.deepEqual(
      taken.map((d) => ("body" in d ? Buffer.from(d.body).toString() : "gap")),
      ["a", "b", "c"],
    );
    await subscription.return();
  });
});
