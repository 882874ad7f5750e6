import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Route } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { type StartedGateway, spawnGateway } from "./support/gateway-process.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { bytes, sleep, subscribeLive, text } from "./support/streams.js";

const SHUTDOWN_TIMEOUT_MS = 5_000;
const PUBLISH_ROUTES: readonly Route[] = ["grpc", "connect", "connect-h2c", "grpc-web", "grpc-on-http-port", "grpc"];
const SUBSCRIBE_ROUTES: readonly Route[] = ["grpc", "connect", "connect-h2c", "grpc-web", "grpc-web-h2c"];

function codeOf(err: unknown): string {
  return err instanceof ConnectError ? Code[err.code] : `not a ConnectError: ${String(err)}`;
}

describe("SIGTERM during traffic", () => {
  const prefix = uniquePrefix("sigterm");
  let gateway: StartedGateway | undefined;
  after(async () => {
    await gateway?.process.stop();
    await deleteGatewayKeys(REDIS_URL, prefix);
  });

  it("refuses new calls with UNAVAILABLE, ends streams cleanly, finishes in-flight publishes and exits 0", async (t) => {
    gateway = await spawnGateway({
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    });
    const running = gateway;
    const subject = "draining";
    const subscriptions = await Promise.all(
      SUBSCRIBE_ROUTES.map((route) => subscribeLive(brokerClient(running, route), subject)),
    );

    // Publishers run until the gateway refuses them.
    const acked = new Map<number, string>();
    const failures: string[] = [];
    let signalledAt = 0;
    let ackedAfterSignal = 0;
    const publisher = async (client: BrokerClient, p: number) => {
      for (let i = 0; i < 100_000; i++) {
        const body = `p${p}-${i}`;
        try {
          const { id } = await client.publish({ subject, body: bytes(body), expirationSeconds: 300 });
          acked.set(Number(id), body);
          if (signalledAt > 0) ackedAfterSignal += 1;
        } catch (err) {
          failures.push(codeOf(err));
          t.diagnostic(`publisher ${p}: ${String(err)}`);
          return;
        }
      }
    };
    const publishing = Promise.all(PUBLISH_ROUTES.map((route, p) => publisher(brokerClient(running, route), p)));

    await sleep(300);
    assert.ok(acked.size > 0, "traffic is flowing");
    signalledAt = Date.now();
    running.process.signal("SIGTERM");
    const exit = await Promise.race([running.process.exited, sleep(SHUTDOWN_TIMEOUT_MS + 3_000).then(() => undefined)]);
    const drainMs = Date.now() - signalledAt;
    assert.deepEqual(exit, { code: 0, signal: null }, `exited within ${SHUTDOWN_TIMEOUT_MS + 3_000} ms`);
    assert.ok(running.process.logs.some((line) => line.msg === "stopped"));
    // Drained, not cut: nothing had to wait for the shutdown timeout.
    assert.ok(drainMs < SHUTDOWN_TIMEOUT_MS, `drain took ${drainMs} ms`);
    await publishing;
    t.diagnostic(
      `exited 0 ${drainMs} ms after SIGTERM; ${acked.size} publishes acknowledged (${ackedAfterSignal} after the signal)`,
    );

    // Every publisher was stopped by UNAVAILABLE, nothing else.
    assert.deepEqual(
      failures,
      PUBLISH_ROUTES.map(() => "Unavailable"),
    );
    // New calls get UNAVAILABLE too.
    for (const route of ["grpc", "connect"] as const) {
      const client = brokerClient(running, route);
      await assert.rejects(client.publish({ subject, body: bytes("late"), expirationSeconds: 1 }), (err) => {
        assert.equal(codeOf(err), "Unavailable");
        return true;
      });
    }

    // Open Subscribe streams ended cleanly (OK), each with a gap-free run of ids from 1.
    for (const [n, subscription] of subscriptions.entries()) {
      assert.equal(
        await subscription.finished,
        undefined,
        `subscriber ${n} (${SUBSCRIBE_ROUTES[n]}) ended with an error`,
      );
      const ids = subscription.received.map((m) => Number(m.id));
      assert.deepEqual(
        ids,
        Array.from({ length: ids.length }, (_, i) => i + 1),
      );
      assert.ok(ids.length > 0);
    }

    // Every acknowledged publish is stored: a new gateway on the same Redis fetches each.
    const successor = await startGateway("redis", { redisKeyPrefix: prefix });
    try {
      const client = brokerClient(successor.gateway, "grpc");
      for (const [id, body] of acked) {
        assert.equal(text((await client.fetch({ subject, id: BigInt(id) })).body), body, `id ${id}`);
      }
    } finally {
      await successor.stop();
    }
  });
});
