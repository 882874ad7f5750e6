import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { rejectsWith } from "./support/assertions.js";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { bytes, subscribeLive, text } from "./support/streams.js";
import { mintToken, TEST_AUDIENCE, testAuthConfig } from "./support/tokens.js";

/** Native gRPC (grpc-js), Connect and gRPC-Web: the three protocols clients speak. */
const ROUTES: Route[] = ["grpc", "connect", "grpc-web"];

/** The error that ends a Subscribe stream (undefined if it ended normally), and the messages before it. */
async function streamOutcome(
  client: BrokerClient,
  request: { subject: string; resumeAfterId?: bigint },
): Promise<{ error: ConnectError | undefined; bodies: string[] }> {
  const bodies: string[] = [];
  try {
    for await (const message of client.subscribe(request)) bodies.push(text(message.body));
    return { error: undefined, bodies };
  } catch (err) {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    return { error: err, bodies };
  }
}

for (const engine of ENGINES) {
  describe(`authentication and permissions on the ${engine} engine`, () => {
    const suite = gatewayForSuite(engine, { auth: testAuthConfig(), idempotencyWindowSeconds: 60 });

    for (const route of ROUTES) {
      describe(`over ${route}`, () => {
        const orders = `${route}.orders`;
        const client = (token?: string): BrokerClient => brokerClient(suite.gateway, route, { token });
        let writer: BrokerClient;
        before(async () => {
          writer = client(
            await mintToken({ sub: "writer", publish: [`${orders}.>`, `${route}.audit`], subscribe: [`${orders}.*`] }),
          );
        });

        it("refuses every call without a token, saying the token is missing", async () => {
          const anonymous = client();
          const subject = `${orders}.eu`;
          await rejectsWith(
            anonymous.publish({ subject, body: bytes("x"), expirationSeconds: 60 }),
            Code.Unauthenticated,
            /missing token/,
          );
          await rejectsWith(anonymous.fetch({ subject, id: 1n }), Code.Unauthenticated, /missing token/);
          await rejectsWith(
            anonymous.publishBatch({ messages: [{ subject, body: bytes("x"), expirationSeconds: 60 }] }),
            Code.Unauthenticated,
            /missing token/,
          );
          const { error } = await streamOutcome(anonymous, { subject });
          assert.equal(error?.code, Code.Unauthenticated);
          assert.match(error?.rawMessage ?? "", /missing token/);
        });

        it("says why a token is refused (expired, bad signature, wrong audience or issuer, malformed) and never echoes it", async () => {
          const grants = { publish: [">"], subscribe: [">"] };
          const cases: [string, Promise<string>, RegExp][] = [
            ["expired", mintToken({ ...grants, ttlSeconds: -30 }), /token expired/],
            [
              "bad signature",
              mintToken({ ...grants, key: new TextEncoder().encode("another-secret-of-at-least-32-bytes!!") }),
              /bad signature/,
            ],
            ["wrong audience", mintToken({ ...grants, audience: "someone-else" }), /wrong audience/],
            ["wrong issuer", mintToken({ ...grants, issuer: "evil" }), /wrong issuer/],
            ["malformed", Promise.resolve("not.a.jwt"), /malformed token/],
            [
              "bad broker claim",
              mintToken({ claims: { broker: { publish: ["a.>.b"] } } }),
              /malformed token: invalid subject pattern 'a\.>\.b'/,
            ],
          ];
          for (const [name, pending, reason] of cases) {
            const token = await pending;
            for (const call of [
              () => client(token).publish({ subject: `${orders}.eu`, body: bytes("x"), expirationSeconds: 60 }),
              () => client(token).fetch({ subject: `${orders}.eu`, id: 1n }),
            ]) {
              await assert.rejects(call(), (err: unknown) => {
                assert.ok(err instanceof ConnectError, name);
                assert.equal(Code[err.code], Code[Code.Unauthenticated], `${name}: ${err.rawMessage}`);
                assert.match(err.rawMessage, reason, name);
                assert.ok(!err.rawMessage.includes(token), `${name}: the message echoes the token`);
                return true;
              });
            }
          }
          const basic = brokerClient(suite.gateway, route);
          await rejectsWith(
            basic.fetch({ subject: `${orders}.eu`, id: 1n }, { headers: { authorization: "Basic dXNlcjpwYXNz" } }),
            Code.Unauthenticated,
            /malformed authorization header/,
          );
        });

        it("publishes where the token allows and refuses elsewhere, naming the subject", async () => {
          const { id } = await writer.publish({ subject: `${orders}.eu`, body: bytes("ok"), expirationSeconds: 60 });
          assert.equal(text((await writer.fetch({ subject: `${orders}.eu`, id })).body), "ok");
          await writer.publish({ subject: `${orders}.eu.deep`, body: bytes("ok"), expirationSeconds: 60 });
          for (const denied of [orders, `${route}.payments`, `${route}.audit.x`]) {
            await rejectsWith(
              writer.publish({ subject: denied, body: bytes("no"), expirationSeconds: 60 }),
              Code.PermissionDenied,
              new RegExp(`publish to subject '${denied.replaceAll(".", "\\.")}'`),
            );
          }
        });

        it("lets Subscribe, resume and Fetch only where the token may subscribe", async () => {
          const reader = client(await mintToken({ sub: "reader", subscribe: [`${orders}.*`] }));
          const allowed = `${orders}.reads`;
          const denied = `${orders}.reads.deeper`;
          const subscription = await subscribeLive(reader, allowed);
          try {
            const { id } = await writer.publish({ subject: allowed, body: bytes("live"), expirationSeconds: 60 });
            assert.equal(text((await subscription.waitFor(1))[0]?.body ?? new Uint8Array()), "live");
            assert.equal(text((await reader.fetch({ subject: allowed, id })).body), "live");
          } finally {
            subscription.close();
          }
          const stored = await writer.publish({ subject: denied, body: bytes("secret"), expirationSeconds: 60 });
          await rejectsWith(
            reader.fetch({ subject: denied, id: stored.id }),
            Code.PermissionDenied,
            /not allowed to fetch from subject '.*\.reads\.deeper'/,
          );
          for (const request of [{ subject: denied }, { subject: denied, resumeAfterId: 0n }]) {
            const { error, bodies } = await streamOutcome(reader, request);
            assert.equal(error?.code, Code.PermissionDenied, error?.rawMessage);
            assert.match(error?.rawMessage ?? "", /not allowed to subscribe to subject '.*\.reads\.deeper'/);
            assert.deepEqual(bodies, []);
          }
          // Publishing does not imply reading.
          const publisherOnly = client(await mintToken({ sub: "p", publish: [">"] }));
          await rejectsWith(publisherOnly.fetch({ subject: allowed, id: 1n }), Code.PermissionDenied, /fetch from/);
        });

        it("refuses a whole batch with one denied subject and stores none of it", async () => {
          const allowed = `${orders}.batch`;
          await rejectsWith(
            writer.publishBatch({
              messages: [
                { subject: allowed, body: bytes("a"), expirationSeconds: 60 },
                { subject: `${route}.payments`, body: bytes("b"), expirationSeconds: 60 },
                { subject: allowed, body: bytes("c"), expirationSeconds: 60 },
              ],
            }),
            Code.PermissionDenied,
            /message 1: not allowed to publish to subject '.*\.payments'/,
          );
          await rejectsWith(writer.fetch({ subject: allowed, id: 1n }), Code.InvalidArgument, /unknown id/);
          const { ids } = await writer.publishBatch({
            messages: [{ subject: allowed, body: bytes("a"), expirationSeconds: 60 }],
          });
          assert.deepEqual(ids, [1n]);
        });

        it("ends a Subscribe stream with UNAUTHENTICATED when its token expires", async () => {
          const subject = `${orders}.expiring`;
          const expiresAtMs = (Math.floor(Date.now() / 1000) + 2) * 1000;
          const token = await mintToken({ sub: "short", subscribe: [subject], ttlSeconds: 2 });
          const subscription = await subscribeLive(client(token), subject);
          try {
            await writer.publish({ subject, body: bytes("before expiry"), expirationSeconds: 60 });
            await subscription.waitFor(1);
            const error = await subscription.finished;
            const endedAt = Date.now();
            assert.ok(error instanceof ConnectError, `expected an error, got ${String(error)}`);
            assert.equal(Code[error.code], Code[Code.Unauthenticated], error.rawMessage);
            assert.match(error.rawMessage, /token expired/);
            assert.ok(endedAt >= expiresAtMs - 50, `ended ${expiresAtMs - endedAt} ms before expiry`);
            assert.ok(endedAt < expiresAtMs + 1_000, `ended ${endedAt - expiresAtMs} ms after expiry`);
          } finally {
            subscription.close();
          }
        });

        it("scopes idempotency keys per token subject and refuses a reused key with another body", async () => {
          const subject = `${orders}.keyed`;
          const grants = { publish: [`${orders}.>`], subscribe: [`${orders}.*`] };
          const alice = client(await mintToken({ sub: "alice", ...grants }));
          const bob = client(await mintToken({ sub: "bob", ...grants }));
          const request = { subject, body: bytes("alice's"), expirationSeconds: 60, idempotencyKey: "k-1" };
          const first = await alice.publish(request);
          const other = await bob.publish({ ...request, body: bytes("bob's") });
          assert.notEqual(other.id, first.id, "bob's publish was swallowed by alice's key");
          assert.equal(text((await bob.fetch({ subject, id: other.id })).body), "bob's");
          // A retry of the same request is answered with the first id; another body is refused.
          assert.equal((await alice.publish(request)).id, first.id);
          await rejectsWith(
            alice.publish({ ...request, body: bytes("changed") }),
            Code.AlreadyExists,
            new RegExp(`idempotencyKey was already used .* for a different request \\(message ${first.id}\\)`),
          );
          await rejectsWith(
            alice.publish({ ...request, expirationSeconds: 30 }),
            Code.AlreadyExists,
            /different request/,
          );
          // Nothing was stored by the refused calls.
          await rejectsWith(alice.fetch({ subject, id: other.id + 1n }), Code.InvalidArgument, /unknown id/);
        });
      });
    }
  });
}

describe("a token minted for another audience list", () => {
  it("is accepted when its audience is one of AUTH_JWT_AUDIENCE's values", async () => {
    const config = testAuthConfig({ AUTH_JWT_AUDIENCE: `other, ${TEST_AUDIENCE}` });
    assert.deepEqual(config.audience, ["other", TEST_AUDIENCE]);
  });
});
