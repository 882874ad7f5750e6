import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { bytes, subscribeLive, text } from "./support/streams.js";

const ROUTES: Route[] = ["grpc", "connect"];

for (const engine of ENGINES) {
  describe(`PublishBatch on the ${engine} engine`, () => {
    const suite = gatewayForSuite(engine, { maxBodyBytes: 1024 });

    for (const route of ROUTES) {
      describe(`over ${route}`, () => {
        let client: BrokerClient;
        before(() => {
          client = brokerClient(suite.gateway, route);
        });

        it("returns ids in request order, consecutive per subject, across several subjects", async () => {
          const a = `batch-a-${route}`;
          const b = `batch-b-${route}`;
          await client.publish({ subject: a, body: bytes("first"), expirationSeconds: 60 });
          const messages = ["a1", "b1", "a2", "a3", "b2"].map((word) => ({
            subject: word.startsWith("a") ? a : b,
            body: bytes(word),
            expirationSeconds: 60,
          }));
          const { ids } = await client.publishBatch({ messages });
          assert.deepEqual(ids, [2n, 1n, 3n, 4n, 2n]);
          for (const [i, message] of messages.entries()) {
            const fetched = await client.fetch({ subject: message.subject, id: ids[i] as bigint });
            assert.equal(text(fetched.body), text(message.body));
          }
        });

        it("delivers a batch to subscribers in order", async () => {
          const subject = `batch-live-${route}`;
          const subscription = await subscribeLive(client, subject);
          try {
            const words = Array.from({ length: 500 }, (_, i) => `w${i}`);
            await client.publishBatch({
              messages: words.map((w) => ({ subject, body: bytes(w), expirationSeconds: 0 })),
            });
            const got = await subscription.waitFor(500);
            assert.deepEqual(
              got.map((m) => text(m.body)),
              words,
            );
          } finally {
            subscription.close();
          }
        });

        it("rejects the whole batch when one message is invalid, naming it, and stores nothing", async () => {
          const subject = `batch-invalid-${route}`;
          await assert.rejects(
            client.publishBatch({
              messages: [
                { subject, body: bytes("ok"), expirationSeconds: 60 },
                { subject, body: new Uint8Array(1025), expirationSeconds: 60 },
              ],
            }),
            (err: unknown) =>
              err instanceof ConnectError &&
              err.code === Code.InvalidArgument &&
              /message 1: body is 1025 bytes/.test(err.rawMessage),
          );
          await assert.rejects(
            client.fetch({ subject, id: 1n }),
            (err: unknown) => err instanceof ConnectError && /unknown id/.test(err.rawMessage),
          );
          await assert.rejects(
            client.publishBatch({ messages: [] }),
            (err: unknown) => err instanceof ConnectError && err.code === Code.InvalidArgument,
          );
        });
      });
    }
  });
}
