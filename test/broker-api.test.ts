import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { rejectsWith } from "./support/assertions.js";
import { ALL_ROUTES, type BrokerClient, brokerClient } from "./support/clients.js";
import { TestClock } from "./support/clock.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { bytes, subscribeLive, text } from "./support/streams.js";

for (const engine of ENGINES) {
  describe(`the broker API on the ${engine} engine`, () => {
    const clock = new TestClock();
    const suite = gatewayForSuite(engine, { maxBodyBytes: 64 * 1024 }, { now: clock.now });

    for (const route of ALL_ROUTES) {
      describe(`over ${route}`, () => {
        let client: BrokerClient;
        before(() => {
          client = brokerClient(suite.gateway, route);
        });

        it("assigns ids 1, 2, 3 per subject and fetches each body back", async () => {
          const subject = `ids-${route}`;
          const ids = [];
          for (const word of ["one", "two", "three"]) {
            ids.push((await client.publish({ subject, body: bytes(word), expirationSeconds: 60 })).id);
          }
          assert.deepEqual(ids, [1n, 2n, 3n]);
          const fetched = await client.fetch({ subject, id: 2n });
          assert.equal(text(fetched.body), "two");
          assert.equal(fetched.id, 2n);
          assert.equal(fetched.subject, subject);
          assert.ok(fetched.publishedAtMs > 0n);
        });

        it("round-trips binary and empty bodies and any UTF-8 subject exactly", async () => {
          const subject = `ünïcødé 主题 🚀 ${route}`;
          const binary = new Uint8Array(256).map((_, i) => i);
          const a = await client.publish({ subject, body: binary, expirationSeconds: 60 });
          const b = await client.publish({ subject, body: new Uint8Array(0), expirationSeconds: 60 });
          assert.deepEqual((await client.fetch({ subject, id: a.id })).body, binary);
          assert.deepEqual((await client.fetch({ subject, id: b.id })).body, new Uint8Array(0));
        });

        it("delivers to a subscriber only what is published after it is live, in order", async () => {
          const subject = `live-${route}`;
          await client.publish({ subject, body: bytes("before"), expirationSeconds: 60 });
          const subscription = await subscribeLive(client, subject);
          try {
            for (let i = 0; i < 20; i++) {
              await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: i % 2 });
            }
            const got = await subscription.waitFor(20);
            assert.deepEqual(
              got.map((m) => text(m.body)),
              Array.from({ length: 20 }, (_, i) => `m${i}`),
            );
            assert.deepEqual(
              got.map((m) => m.id),
              Array.from({ length: 20 }, (_, i) => BigInt(i + 2)),
            );
          } finally {
            subscription.close();
          }
        });

        it("rejects fetches of unknown, fire-and-forget and expired ids, saying which", async () => {
          const subject = `fetch-errors-${route}`;
          await rejectsWith(client.fetch({ subject, id: 1n }), Code.InvalidArgument, /unknown id/);
          const ff = await client.publish({ subject, body: bytes("x"), expirationSeconds: 0 });
          await rejectsWith(client.fetch({ subject, id: ff.id }), Code.InvalidArgument, /fire-and-forget/);
          const short = await client.publish({ subject, body: bytes("y"), expirationSeconds: 1 });
          assert.equal(text((await client.fetch({ subject, id: short.id })).body), "y");
          clock.advance(1_100);
          await rejectsWith(client.fetch({ subject, id: short.id }), Code.InvalidArgument, /expired/);
        });

        it("answers bad input with INVALID_ARGUMENT and a precise message", async () => {
          const body = bytes("x");
          await rejectsWith(
            client.publish({ subject: "", body, expirationSeconds: 1 }),
            Code.InvalidArgument,
            /subject must not be empty/,
          );
          await rejectsWith(
            client.publish({ subject: "é".repeat(513), body, expirationSeconds: 1 }),
            Code.InvalidArgument,
            /subject is 1026 bytes of UTF-8; the limit is 1024/,
          );
          await rejectsWith(
            client.publish({ subject: "s", body: new Uint8Array(64 * 1024 + 1), expirationSeconds: 1 }),
            Code.InvalidArgument,
            /body is 65537 bytes; the limit is 65536/,
          );
          await rejectsWith(
            client.publish({ subject: "s", body, expirationSeconds: -1 }),
            Code.InvalidArgument,
            /expirationSeconds/,
          );
          await rejectsWith(
            client.fetch({ subject: "s", id: 0n }),
            Code.InvalidArgument,
            /id must be a positive integer/,
          );
          await rejectsWith(
            client.fetch({ subject: "s", id: -5n }),
            Code.InvalidArgument,
            /id must be a positive integer/,
          );
          await rejectsWith(
            (async () => {
              for await (const _ of client.subscribe({ subject: "" })) break;
            })(),
            Code.InvalidArgument,
            /subject must not be empty/,
          );
          // ...and the gateway keeps serving.
          assert.ok((await client.publish({ subject: "still-serving", body, expirationSeconds: 1 })).id > 0n);
        });
      });
    }
  });
}
