import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { brokerClient } from "./support/clients.js";
import { gatewayForSuite, startGateway } from "./support/gateway.js";
import { grpcHealthCheck, grpcHealthWatch, httpStatus, ServingStatus } from "./support/health-client.js";
import { eventually, freePort } from "./support/node-process.js";
import { bytes } from "./support/streams.js";

describe("health of a gateway on a reachable Redis", () => {
  const suite = gatewayForSuite("redis");

  it("answers /healthz and /readyz with 200 on the HTTP port", async () => {
    assert.deepEqual(await httpStatus(suite.gateway.httpPort, "/healthz"), { status: 200, body: "ok\n" });
    assert.deepEqual(await httpStatus(suite.gateway.httpPort, "/readyz"), { status: 200, body: "ok\n" });
  });

  it("reports SERVING for the server and the broker service over grpc.health.v1", async () => {
    assert.equal(await grpcHealthCheck(suite.gateway.grpcPort), ServingStatus.SERVING);
    assert.equal(await grpcHealthCheck(suite.gateway.grpcPort, "broker.Broker"), ServingStatus.SERVING);
  });

  it("answers NOT_FOUND for a service it does not serve", async () => {
    await assert.rejects(grpcHealthCheck(suite.gateway.grpcPort, "no.such.Service"), { code: status.NOT_FOUND });
  });

  it("leaves other unknown paths on the HTTP port to a 404", async () => {
    assert.equal((await httpStatus(suite.gateway.httpPort, "/nothing-here")).status, 404);
  });
});

describe("readiness follows Redis", () => {
  let redis: ReturnType<typeof spawn> | undefined;
  let dir: string;
  let redisPort: number;
  const startRedis = async () => {
    redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--dir", dir], {
      stdio: "ignore",
    });
  };
  const stopRedis = async () => {
    const child = redis;
    redis = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  };
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "health-redis-"));
    redisPort = await freePort();
    await startRedis();
  });
  after(async () => {
    await stopRedis();
    await rm(dir, { recursive: true, force: true });
  });

  it("turns /readyz and gRPC health false while Redis is down, and true again when it is back", async () => {
    const { gateway, stop } = await eventually("a gateway on the private Redis", () =>
      startGateway("redis", { redisUrl: `redis://127.0.0.1:${redisPort}` }),
    );
    try {
      assert.equal((await httpStatus(gateway.httpPort, "/readyz")).status, 200);
      await stopRedis();
      const down = await eventually("readyz to fail", async () => {
        const answer = await httpStatus(gateway.httpPort, "/readyz");
        return answer.status === 503 ? answer : undefined;
      });
      assert.equal(down.body, "storage unreachable\n");
      assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.NOT_SERVING);
      assert.equal((await httpStatus(gateway.httpPort, "/healthz")).status, 200, "still alive");
      await startRedis();
      await eventually("readyz to recover", async () =>
        (await httpStatus(gateway.httpPort, "/readyz")).status === 200 ? true : undefined,
      );
      assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.SERVING);
    } finally {
      await stop().catch(() => {});
    }
  });
});

describe("readiness during a drain", () => {
  it("turns false at the start of the drain while calls are still served for DRAIN_DELAY_MS", async () => {
    const { gateway, stop } = await startGateway("redis", { drainDelayMs: 800 });
    const client = brokerClient(gateway, "grpc");
    const closing = stop();
    try {
      const readyz = await httpStatus(gateway.httpPort, "/readyz");
      assert.deepEqual(readyz, { status: 503, body: "draining\n" });
      assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.NOT_SERVING);
      const published = await client.publish({ subject: "drain", body: bytes("still served"), expirationSeconds: 0 });
      assert.equal(published.id, 1n);
    } finally {
      await closing;
    }
  });

  it("streams SERVING and then NOT_SERVING to a grpc.health.v1 Watch when the drain begins", async () => {
    const { gateway, stop } = await startGateway("redis", { drainDelayMs: 2_500 });
    const watch = grpcHealthWatch(gateway.grpcPort, "broker.Broker");
    try {
      await eventually("the first status", () => (watch.statuses.length > 0 ? true : undefined));
      assert.deepEqual(watch.statuses, [ServingStatus.SERVING]);
      const closing = stop();
      await eventually("NOT_SERVING", () => (watch.statuses.length > 1 ? true : undefined), 2_400);
      assert.deepEqual(watch.statuses, [ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
      watch.close();
      await closing;
    } finally {
      watch.close();
    }
  });

  it("does not wait for idle HTTP/1.1 keep-alive connections", async () => {
    const { gateway, stop } = await startGateway("memory", { shutdownTimeoutMs: 8_000 });
    // Connect over HTTP/1.1 keeps its socket open (Node's agent: keep-alive, 5 s idle).
    await brokerClient(gateway, "connect").publish({ subject: "idle", body: bytes("x"), expirationSeconds: 0 });
    const started = Date.now();
    await stop();
    assert.ok(Date.now() - started < 1_000, `drained in ${Date.now() - started} ms`);
  });
});
