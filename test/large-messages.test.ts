import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALL_ROUTES, brokerClient } from "./support/clients.js";
import { ENGINES, gatewayForSuite } from "./support/gateway.js";
import { subscribeLive } from "./support/streams.js";

/** Sizes around the point where connect-node would start compressing (1 KiB) and the body limit. */
const SIZES = [1023, 1025, 64 * 1024, 1024 * 1024];

function patterned(size: number): Uint8Array {
  // Compressible on purpose: a gateway that compressed would be tempted to.
  return new Uint8Array(size).map((_, i) => (i * 7) % 13);
}

for (const engine of ENGINES) {
  describe(`bodies up to MAX_BODY_BYTES over every route, ${engine} engine`, () => {
    const suite = gatewayForSuite(engine);

    for (const route of ALL_ROUTES) {
      it(`streams and fetches ${SIZES.join(", ")}-byte bodies byte for byte over ${route}`, async () => {
        const client = brokerClient(suite.gateway, route);
        const subject = `large-${route}`;
        const subscription = await subscribeLive(client, subject);
        try {
          const bodies = SIZES.map(patterned);
          for (const body of bodies) await client.publish({ subject, body, expirationSeconds: 60 });
          const got = await subscription.waitFor(bodies.length);
          for (const [n, body] of bodies.entries()) {
            assert.deepEqual(got[n]?.body, body, `streamed body of ${body.byteLength} bytes`);
            assert.deepEqual(
              (await client.fetch({ subject, id: BigInt(n + 1) })).body,
              body,
              `fetched body of ${body.byteLength} bytes`,
            );
          }
        } finally {
          subscription.close();
        }
      });
    }
  });
}
