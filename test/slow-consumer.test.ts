import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { MessageResponse } from "../gateway/gen/broker/broker_pb.js";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { residentBytes, type StartedGateway, spawnGateway } from "./support/gateway-process.js";
import { PausedSubscription } from "./support/paused-stream.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { subscribeLive } from "./support/streams.js";

const MESSAGES = 800;
const FAST_ROUTES: readonly Route[] = ["grpc", "connect", "grpc-web-h2c"];
const BODY_BYTES = 64 * 1024;
const TOTAL_BYTES = MESSAGES * BODY_BYTES; // 50 MiB
/** The fast subscribers must have everything this soon after the last publish is acknowledged. */
const FAST_DEADLINE_MS = 10_000;

/** A 64 KiB body whose first four bytes say which message it is. */
function body(index: number): Uint8Array {
  const buffer = Buffer.alloc(BODY_BYTES, index % 251);
  buffer.writeUInt32BE(index, 0);
  return buffer;
}

function indexOf(received: Uint8Array): number {
  assert.equal(received.byteLength, BODY_BYTES);
  return Buffer.from(received.buffer, received.byteOffset, received.byteLength).readUInt32BE(0);
}

/** Ids 1..n in order, each carrying the body published under it. */
function assertInOrderFromOne(messages: readonly { id: number; body: Uint8Array }[], n: number, label: string): void {
  assert.deepEqual(
    messages.map((m) => m.id),
    Array.from({ length: n }, (_, i) => i + 1),
    `${label}: ids`,
  );
  for (const m of messages) assert.equal(indexOf(m.body), m.id - 1, `${label}: body of id ${m.id}`);
}

async function warmUp(gateway: StartedGateway, publisher: BrokerClient): Promise<void> {
  const subject = "warm-up";
  const subscriptions = await Promise.all(
    FAST_ROUTES.map((route) => subscribeLive(brokerClient(gateway, route), subject)),
  );
  for (let i = 0; i < MESSAGES; i++) await publisher.publish({ subject, body: body(i), expirationSeconds: 1 });
  for (const subscription of subscriptions) {
    await subscription.waitFor(MESSAGES, FAST_DEADLINE_MS);
    subscription.close();
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Scenario {
  readonly name: string;
  readonly env: Record<string, string>;
  /**
   * Whether the gateway's resident memory can tell: with Redis the gateway
   * keeps no message, so a slow subscription that kept buffering would hold
   * the whole backlog (measured with 25 MiB: +20 MiB with unbounded buffers
   * against +1 to +12.5 MiB bounded, the allocator and heap varying from run
   * to run, hence 50 MiB and a bound of half of it). The memory engine retains every message anyway and
   * subscriptions share those objects, so there RSS cannot show buffering.
   */
  readonly measureMemory: boolean;
  readonly outcome: "catches up" | "falls behind retention";
}

const SCENARIOS: readonly Scenario[] = [
  { name: "redis, retention above the backlog", env: { REDIS_URL }, measureMemory: true, outcome: "catches up" },
  {
    name: "redis, REDIS_MAXLEN=100",
    env: { REDIS_URL, REDIS_MAXLEN: "100" },
    measureMemory: true,
    outcome: "falls behind retention",
  },
  { name: "memory engine", env: {}, measureMemory: false, outcome: "catches up" },
  {
    name: "memory engine, MEMORY_MAX_MESSAGES_PER_SUBJECT=100",
    env: { MEMORY_MAX_MESSAGES_PER_SUBJECT: "100" },
    measureMemory: false,
    outcome: "falls behind retention",
  },
];

describe("a subscriber that never reads while others receive 800 messages of 64 KiB", () => {
  const prefix = uniquePrefix("slow");
  const gateways: StartedGateway[] = [];
  after(async () => {
    await Promise.all(gateways.map((gateway) => gateway.process.stop()));
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: the others get everything${scenario.measureMemory ? ", gateway memory stays bounded" : ""}, the slow one ${scenario.outcome}`, async (t) => {
      const gateway = await spawnGateway({
        REDIS_KEY_PREFIX: prefix,
        ...scenario.env,
      });
      gateways.push(gateway);
      const subject = `slow-${gateways.length}`;

      // Two that never read: a native gRPC stream on the gRPC port and a
      // Connect stream on the HTTP port, each on its own paused HTTP/2 stream.
      const slow = [
        new PausedSubscription(gateway.grpcPort, subject, "grpc"),
        new PausedSubscription(gateway.httpPort, subject, "connect"),
      ];
      const fast = await Promise.all(FAST_ROUTES.map((route) => subscribeLive(brokerClient(gateway, route), subject)));
      await Promise.all(slow.map((subscription) => subscription.live));
      try {
        const publisher = brokerClient(gateway, "grpc");
        // Warm up: the same traffic once without slow subscribers, so the
        // process's heap and allocator reach the size this traffic needs and
        // what grows afterwards is what the slow subscribers hold.
        if (scenario.measureMemory) await warmUp(gateway, publisher);
        const rssBefore = residentBytes(gateway.process.pid);
        const started = Date.now();
        for (let i = 0; i < MESSAGES; i++) {
          const { id } = await publisher.publish({ subject, body: body(i), expirationSeconds: 300 });
          assert.equal(id, BigInt(i + 1));
        }
        const published = Date.now();
        for (const [n, subscription] of fast.entries()) {
          const got: MessageResponse[] = await subscription.waitFor(MESSAGES, FAST_DEADLINE_MS);
          assertInOrderFromOne(
            got.map((m) => ({ id: Number(m.id), body: m.body })),
            MESSAGES,
            `fast subscriber ${n}`,
          );
        }
        const delivered = Date.now();
        const growth = residentBytes(gateway.process.pid) - rssBefore;
        t.diagnostic(
          `published in ${published - started} ms, all fast subscribers done ${delivered - published} ms later; ` +
            `gateway RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB while the slow ones held back`,
        );
        if (scenario.measureMemory) {
          assert.ok(growth < TOTAL_BYTES / 2, `gateway RSS grew ${growth} bytes: the slow streams kept buffering`);
        }

        // Now the slow ones read.
        for (const subscription of slow) subscription.read();
        for (const [n, subscription] of slow.entries()) {
          const label = `slow subscriber ${n} (${n === 0 ? "gRPC" : "Connect"})`;
          if (scenario.outcome === "catches up") {
            await subscription.waitFor(MESSAGES, 10_000);
            assertInOrderFromOne(subscription.messages, MESSAGES, label);
            continue;
          }
          const end = await within(subscription.ended, 10_000, `the end of ${label}`);
          assert.equal(end.code, n === 0 ? "8" : "resource_exhausted", `${label}: ${JSON.stringify(end)}`);
          assert.match(end.message, /fell behind retention/);
          // What it did get before the end was a gap-free prefix.
          assert.ok(subscription.messages.length < MESSAGES);
          assertInOrderFromOne(subscription.messages, subscription.messages.length, label);
        }
        if (scenario.outcome === "catches up") {
          // Caught up, they are live again: the next message arrives as usual.
          await publisher.publish({ subject, body: body(MESSAGES), expirationSeconds: 300 });
          for (const subscription of slow) {
            await subscription.waitFor(MESSAGES + 1, 5_000);
            assertInOrderFromOne(subscription.messages, MESSAGES + 1, "a caught-up subscriber");
          }
        }
      } finally {
        for (const subscription of slow) subscription.close();
        for (const subscription of fast) subscription.close();
        await gateway.process.stop();
      }
    });
  }
});
