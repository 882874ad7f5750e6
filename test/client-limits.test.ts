import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { Gateway } from "../gateway/src/gateway.js";
import { type ClientLimitsConfig, DEFAULT_CLIENT_LIMITS } from "../gateway/src/limits/client-limits.js";
import { LIMIT_METRICS } from "../gateway/src/process/metric-names.js";
import { rejectsWith } from "./support/assertions.js";
import { brokerClient, type Route } from "./support/clients.js";
import { gatewayForSuite } from "./support/gateway.js";
import { parseMetrics, sumOf } from "./support/metrics.js";
import { eventually } from "./support/node-process.js";
import { idleConnection } from "./support/raw-calls.js";
import { TestSubscription } from "./support/streams.js";
import { mintToken, testAuthConfig } from "./support/tokens.js";

function limits(overrides: Partial<ClientLimitsConfig>): { limits: ClientLimitsConfig } {
  return { limits: { ...DEFAULT_CLIENT_LIMITS, ...overrides } };
}

async function refusals(gateway: Gateway, limit: string): Promise<number> {
  return sumOf(parseMetrics(await gateway.metrics.registry.metrics()), LIMIT_METRICS.refusals, { limit });
}

const body = new Uint8Array([1, 2, 3]);

describe("MAX_CONNECTIONS: connections per process, both ports together", () => {
  const suite = gatewayForSuite("memory", limits({ maxConnections: 2 }));

  it("refuses the 3rd connection with RESOURCE_EXHAUSTED on every protocol, and serves again once one closes", async () => {
    const { gateway } = suite;
    const first = idleConnection(gateway.grpcPort);
    const second = idleConnection(gateway.httpPort);
    await eventually("two open connections", async () => {
      const samples = parseMetrics(await gateway.metrics.registry.metrics());
      return sumOf(samples, LIMIT_METRICS.openConnections) === 2 ? true : undefined;
    });
    for (const route of ["grpc", "grpc-on-http-port", "connect", "grpc-web", "connect-h2c"] as Route[]) {
      await rejectsWith(
        brokerClient(gateway, route).publish({ subject: "full", body, expirationSeconds: 60 }),
        Code.ResourceExhausted,
        /MAX_CONNECTIONS/,
      );
    }
    const streams = new TestSubscription(brokerClient(gateway, "grpc"), "full");
    const ended = await streams.finished;
    assert.match(String(ended), /MAX_CONNECTIONS/, "a Subscribe on a refused connection ends with the reason");
    assert.ok((await refusals(gateway, "connections")) >= 6);
    first.socket.destroy();
    second.socket.destroy();
    await Promise.all([first.closed, second.closed]);
    await eventually("a call served again", async () => {
      const published = await brokerClient(gateway, "grpc").publish({ subject: "full", body, expirationSeconds: 60 });
      return published.id > 0n ? true : undefined;
    });
  });
});

describe("MAX_SUBSCRIBE_STREAMS_PER_CONNECTION", () => {
  const suite = gatewayForSuite("memory", limits({ maxSubscribeStreamsPerConnection: 3 }));

  for (const route of ["grpc", "connect-h2c", "grpc-on-http-port"] as Route[]) {
    it(`${route}: refuses the 4th stream on one connection, not on another, and frees a slot on cancel`, async () => {
      const client = brokerClient(suite.gateway, route);
      const open = [0, 1, 2].map(() => new TestSubscription(client, `per-conn-${route}`));
      await Promise.all(open.map((stream) => stream.live));
      const fourth = new TestSubscription(client, `per-conn-${route}`);
      const refused = await fourth.finished;
      assert.match(String(refused), /resource_exhausted|ResourceExhausted|RESOURCE_EXHAUSTED/i);
      assert.match(String(refused), /MAX_SUBSCRIBE_STREAMS_PER_CONNECTION/);
      // Another connection has its own count.
      const other = new TestSubscription(brokerClient(suite.gateway, route), `per-conn-${route}`);
      await other.live;
      open[0]?.close();
      await open[0]?.finished;
      const again = new TestSubscription(client, `per-conn-${route}`);
      await eventually("a slot freed by the cancelled stream", () => again.live.then(() => true));
      for (const stream of [...open, other, again]) stream.close();
      await Promise.all([...open, other, again].map((stream) => stream.finished));
    });
  }
});

describe("MAX_SUBSCRIBE_STREAMS: per process", () => {
  const suite = gatewayForSuite("memory", limits({ maxSubscribeStreams: 4 }));

  it("refuses the 5th stream across connections and ports", async () => {
    const { gateway } = suite;
    const routes: Route[] = ["grpc", "connect-h2c", "grpc-web", "grpc-on-http-port"];
    const open = routes.map((route) => new TestSubscription(brokerClient(gateway, route), "per-process"));
    await Promise.all(open.map((stream) => stream.live));
    for (const route of ["grpc", "connect"] as Route[]) {
      const refused = await new TestSubscription(brokerClient(gateway, route), "per-process").finished;
      assert.match(String(refused), /MAX_SUBSCRIBE_STREAMS\)/, route);
    }
    assert.equal(await refusals(gateway, "subscribe_streams_per_process"), 2);
    for (const stream of open) stream.close();
    await Promise.all(open.map((stream) => stream.finished));
  });
});

describe("PUBLISH_RATE_LIMIT: a token bucket per principal", () => {
  const suite = gatewayForSuite("memory", limits({ publishRateLimit: 2, publishBurst: 5 }));

  for (const route of ["grpc", "connect"] as Route[]) {
    it(`${route}: refuses past the burst, counts batches by message, and recovers`, async () => {
      const client = brokerClient(suite.gateway, route);
      const publish = () => client.publish({ subject: `rate-${route}`, body, expirationSeconds: 60 });
      // Both routes come from 127.0.0.1, one principal: let the bucket refill (5 tokens at 2/s).
      await new Promise((resolve) => setTimeout(resolve, 2_600));
      for (let i = 0; i < 5; i++) await publish();
      await rejectsWith(publish(), Code.ResourceExhausted, /publish rate limit.*retry in \d+ ms/);
      await rejectsWith(
        client.publishBatch({
          messages: Array.from({ length: 6 }, () => ({ subject: "rate", body, expirationSeconds: 60 })),
        }),
        Code.ResourceExhausted,
        /larger than the publish burst of 5/,
      );
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const batch = await client.publishBatch({
        messages: Array.from({ length: 2 }, () => ({ subject: `rate-${route}`, body, expirationSeconds: 60 })),
      });
      assert.equal(batch.ids.length, 2, "refilled at 2/s: 2 tokens after 1.1 s");
      await rejectsWith(publish(), Code.ResourceExhausted, /publish rate limit/);
    });
  }

  it("counts each refusal", async () => {
    assert.ok((await refusals(suite.gateway, "publish_rate")) >= 6);
  });
});

describe("PUBLISH_RATE_LIMIT with authentication: the bucket is the token's subject, not the address", () => {
  const suite = gatewayForSuite("memory", {
    ...limits({ publishRateLimit: 1, publishBurst: 3 }),
    auth: testAuthConfig(),
  });

  for (const route of ["grpc", "connect"] as Route[]) {
    it(`${route}: one user spending their burst leaves another user on the same address untouched`, async () => {
      const alice = brokerClient(suite.gateway, route, {
        token: await mintToken({ sub: `alice-${route}`, publish: [">"] }),
      });
      const bob = brokerClient(suite.gateway, route, {
        token: await mintToken({ sub: `bob-${route}`, publish: [">"] }),
      });
      const publish = (client: typeof alice) =>
        client.publish({ subject: `users-${route}`, body, expirationSeconds: 60 });
      // A token's first call is charged to the address (it is verified inside the call): let that bucket refill.
      await publish(alice);
      await publish(bob);
      await new Promise((resolve) => setTimeout(resolve, 3_100));
      for (let i = 0; i < 3; i++) await publish(alice);
      await rejectsWith(publish(alice), Code.ResourceExhausted, /publish rate limit/);
      for (let i = 0; i < 3; i++) await publish(bob);
    });
  }
});
