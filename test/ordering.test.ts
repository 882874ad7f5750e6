import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { MessageResponse } from "../gateway/gen/broker/broker_pb.js";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { acceptedConnections, type StartedGateway, spawnGateway } from "./support/gateway-process.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const PUBLISHERS = 8;
const PER_PUBLISHER = 40;
const TOTAL = PUBLISHERS * PER_PUBLISHER;

/**
 * Runs every publisher at once, each publishing its own sequence in turn;
 * returns the body acknowledged under each id.
 */
async function publishConcurrently(publishers: BrokerClient[], subject: string): Promise<Map<number, string>> {
  const acked = new Map<number, string>();
  await Promise.all(
    publishers.map(async (client, p) => {
      let previous = 0;
      for (let i = 0; i < PER_PUBLISHER; i++) {
        const body = `p${p}-m${i}`;
        const { id } = await client.publish({ subject, body: bytes(body), expirationSeconds: 60 });
        // One publisher's sequential publishes get increasing ids.
        assert.ok(Number(id) > previous, `publisher ${p}: id ${id} after ${previous}`);
        previous = Number(id);
        assert.ok(!acked.has(previous), `id ${id} acknowledged twice`);
        acked.set(previous, body);
      }
    }),
  );
  return acked;
}

function assertIdsAreOneToTotal(acked: Map<number, string>): void {
  assert.deepEqual(
    [...acked.keys()].sort((a, b) => a - b),
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
}

/** Every subscriber got ids 1..TOTAL in order, no gaps, each with the body acknowledged under it. */
async function assertEverySubscriberSawAllInOrder(
  subscriptions: TestSubscription[],
  acked: Map<number, string>,
): Promise<void> {
  for (const [n, subscription] of subscriptions.entries()) {
    const got: MessageResponse[] = await subscription.waitFor(TOTAL);
    assert.deepEqual(
      got.map((m) => Number(m.id)),
      Array.from({ length: TOTAL }, (_, i) => i + 1),
      `subscriber ${n} saw ids out of order or with gaps`,
    );
    for (const message of got) assert.equal(text(message.body), acked.get(Number(message.id)));
  }
}

const PUBLISH_ROUTES: readonly Route[] = ["grpc", "connect", "connect-h2c", "grpc-web"];
const SUBSCRIBE_ROUTES: readonly Route[] = ["grpc", "connect", "grpc-web-h2c"];

for (const engine of ENGINES) {
  describe(`ids and order under concurrent publishers on the ${engine} engine`, () => {
    const suite = gatewayForSuite(engine);

    it("gives ids 1..N exactly once and every subscriber sees them in id order with no gaps", async () => {
      const subject = "concurrent";
      const subscriptions = await Promise.all(
        SUBSCRIBE_ROUTES.map((route) => subscribeLive(brokerClient(suite.gateway, route), subject)),
      );
      try {
        const publishers = Array.from({ length: PUBLISHERS }, (_, p) =>
          brokerClient(suite.gateway, PUBLISH_ROUTES[p % PUBLISH_ROUTES.length]),
        );
        const acked = await publishConcurrently(publishers, subject);
        assertIdsAreOneToTotal(acked);
        await assertEverySubscriberSawAllInOrder(subscriptions, acked);
      } finally {
        for (const subscription of subscriptions) subscription.close();
      }
    });
  });
}

describe("ids and order across gateway processes on one Redis", () => {
  const prefix = uniquePrefix("processes");
  const started: StartedGateway[] = [];
  after(async () => {
    await Promise.all(started.map((gateway) => gateway.process.stop()));
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  it("two gateway processes publishing to one subject share one id sequence and one order", async () => {
    const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
    // One at a time, so a failed start never leaks the other process.
    const a = await spawnGateway(env);
    started.push(a);
    const b = await spawnGateway(env);
    started.push(b);
    const subject = "two-processes";
    const subscriptions = await Promise.all([
      subscribeLive(brokerClient(a, "grpc"), subject),
      subscribeLive(brokerClient(b, "grpc"), subject),
      subscribeLive(brokerClient(a, "connect"), subject),
      subscribeLive(brokerClient(b, "connect-h2c"), subject),
    ]);
    try {
      const publishers = Array.from({ length: PUBLISHERS }, (_, p) =>
        brokerClient(p % 2 === 0 ? a : b, p % 4 < 2 ? "grpc" : "connect"),
      );
      const acked = await publishConcurrently(publishers, subject);
      assertIdsAreOneToTotal(acked);
      await assertEverySubscriberSawAllInOrder(subscriptions, acked);
    } finally {
      for (const subscription of subscriptions) subscription.close();
    }
  });

  it("with WORKERS=2, both node:cluster workers serve the shared ports and ids and order hold", async () => {
    const gateway = await spawnGateway({ REDIS_URL, REDIS_KEY_PREFIX: prefix }, 2);
    started.push(gateway);
    assert.equal(new Set(gateway.servingPids).size, 2, "two distinct worker processes");
    assert.ok(!gateway.servingPids.includes(gateway.process.pid), "the primary only supervises");
    const subject = "two-workers";
    // Each transport is its own connection, which the cluster hands to one worker.
    const clients = Array.from({ length: 8 }, () => brokerClient(gateway, "grpc"));
    const subscriptions = await Promise.all(clients.slice(0, 4).map((client) => subscribeLive(client, subject)));
    try {
      const perWorker = gateway.servingPids.map((pid) => acceptedConnections(pid, gateway.grpcPort));
      assert.ok(
        perWorker.every((count) => count > 0),
        `each worker holds accepted gRPC connections: ${perWorker}`,
      );
      const acked = await publishConcurrently(clients, subject);
      assertIdsAreOneToTotal(acked);
      await assertEverySubscriberSawAllInOrder(subscriptions, acked);
    } finally {
      for (const subscription of subscriptions) subscription.close();
    }
  });
});
