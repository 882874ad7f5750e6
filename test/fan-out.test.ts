import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { brokerClient, type Ports, type Route } from "./support/clients.js";
import { ENGINES, startGateway } from "./support/gateway.js";
import { bytes, subscribeLive, type TestSubscription, text } from "./support/streams.js";

const SUBSCRIBERS = 500;
/** Streams per client connection: ten HTTP/2 connections carry the 500 streams. */
const STREAMS_PER_CONNECTION = 50;
const MESSAGES = 20;
const ROUTES: readonly Route[] = ["grpc", "connect-h2c"];

for (const engine of ENGINES) {
  describe(`500 concurrent subscribers on one subject, ${engine} engine`, () => {
    let ports: Ports;
    let stop: () => Promise<void>;
    let countSubscriptions: () => number;
    before(async () => {
      const started = await startGateway(engine);
      ports = started.gateway;
      countSubscriptions = () => started.gateway.broker.subscriptionCount;
      stop = started.stop;
    });
    after(() => stop());

    it("delivers every message to every one of them, in order", async () => {
      const subject = "crowd";
      const connections = SUBSCRIBERS / STREAMS_PER_CONNECTION;
      const clients = Array.from({ length: connections }, (_, c) => brokerClient(ports, ROUTES[c % ROUTES.length]));
      const subscriptions: TestSubscription[] = [];
      try {
        await Promise.all(
          Array.from({ length: SUBSCRIBERS }, async (_, s) => {
            const client = clients[s % connections];
            assert.ok(client);
            subscriptions.push(await subscribeLive(client, subject));
          }),
        );
        assert.equal(countSubscriptions(), SUBSCRIBERS);

        const publisher = brokerClient(ports, "grpc");
        for (let i = 1; i <= MESSAGES; i++) {
          await publisher.publish({ subject, body: bytes(`m${i}`), expirationSeconds: 60 });
        }
        const expected = Array.from({ length: MESSAGES }, (_, i) => `m${i + 1}`);
        await Promise.all(
          subscriptions.map(async (subscription, n) => {
            const got = await subscription.waitFor(MESSAGES, 20_000);
            assert.deepEqual(
              got.map((m) => text(m.body)),
              expected,
              `subscriber ${n}`,
            );
          }),
        );
      } finally {
        for (const subscription of subscriptions) subscription.close();
        await Promise.all(subscriptions.map((subscription) => subscription.finished));
      }
      // Cancelled streams free their subscriptions.
      const deadline = Date.now() + 5_000;
      while (countSubscriptions() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(countSubscriptions(), 0);
    });
  });
}
