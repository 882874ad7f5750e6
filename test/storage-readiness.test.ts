import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Archiver } from "../archiver/src/archiver.js";
import { loadArchiverConfig } from "../archiver/src/config.js";
import { ServingStatus } from "../gateway/src/observability/grpc-health.js";
import { createDatabase } from "./support/archive.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { spawnGateway } from "./support/gateway-process.js";
import { grpcHealthCheck, httpStatus } from "./support/health-client.js";
import { eventually } from "./support/node-process.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, subscribeLive } from "./support/streams.js";

/** /readyz once it answers 503; its body is the reason. */
const notReady = (port: number) =>
  eventually("/readyz to answer 503", async () => {
    const answer = await httpStatus(port, "/readyz");
    return answer.status === 503 ? answer.body : undefined;
  });

describe("readiness on a Redis node in cluster mode that the gateway treats as standalone", () => {
  let node: PrivateRedis;
  before(async () => {
    // A cluster node with no slots assigned: every key command answers CLUSTERDOWN (or MOVED once configured).
    node = await PrivateRedis.start({ args: ["--cluster-enabled", "yes"] });
  });
  after(() => node.destroy());

  it("reports NOT_SERVING with the reason, logs it, and fails publishes instead of pretending", async () => {
    const started = await spawnGateway({ REDIS_URL: node.url, LOG_LEVEL: "info" });
    try {
      const reason = await notReady(started.httpPort);
      assert.match(reason, /runs in cluster mode/);
      assert.match(reason, /REDIS_CLUSTER_NODES/);
      assert.equal(await grpcHealthCheck(started.grpcPort), ServingStatus.NOT_SERVING);
      const [logged] = await started.process.waitForLog("not ready");
      assert.match(String(logged?.reason), /runs in cluster mode/);
      const client = brokerClient(started);
      await assert.rejects(
        client.publish({ subject: "s", body: bytes("x"), expirationSeconds: 60 }),
        (err: unknown) => err instanceof ConnectError && err.code === Code.Unavailable,
      );
    } finally {
      await started.process.stop();
    }
  });
});

describe("readiness on a Redis replica", () => {
  let master: PrivateRedis;
  let replica: PrivateRedis;
  before(async () => {
    master = await PrivateRedis.start();
    replica = await PrivateRedis.start();
    const inspector = replica.connect();
    try {
      await inspector.replicaof("127.0.0.1", master.port);
    } finally {
      inspector.disconnect();
    }
  });
  after(async () => {
    await replica.destroy();
    await master.destroy();
  });

  it("reports NOT_SERVING naming the master, since writes would fail with READONLY", async () => {
    const { gateway, stop } = await startGateway("redis", { redisUrl: replica.url });
    try {
      const reason = await notReady(gateway.httpPort);
      assert.match(reason, new RegExp(`replica of 127\\.0\\.0\\.1:${master.port}`));
      assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.NOT_SERVING);
    } finally {
      await stop();
    }
  });

  it("turns ready once the node is promoted to master", async () => {
    const { gateway, stop } = await startGateway("redis", { redisUrl: replica.url });
    const inspector = replica.connect();
    try {
      await notReady(gateway.httpPort);
      await inspector.replicaof("NO", "ONE");
      await eventually("/readyz to answer 200", async () =>
        (await httpStatus(gateway.httpPort, "/readyz")).status === 200 ? true : undefined,
      );
      assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.SERVING);
    } finally {
      inspector.disconnect();
      await stop();
    }
  });
});

describe("readiness while the subscription readers keep failing", () => {
  let node: PrivateRedis;
  before(async () => {
    node = await PrivateRedis.start();
    const inspector = node.connect();
    try {
      // A user that may do everything but XREAD: commands work, live reads never do.
      await inspector.call("ACL", "SETUSER", "noreads", "on", "nopass", "~*", "&*", "+@all", "-xread");
    } finally {
      inspector.disconnect();
    }
  });
  after(() => node.destroy());

  it("reports NOT_SERVING with the readers' error once a subscription's reads fail repeatedly", async () => {
    const { gateway, stop } = await startGateway("redis", { redisUrl: `redis://noreads@127.0.0.1:${node.port}` });
    const client = brokerClient({ grpcPort: gateway.grpcPort, httpPort: gateway.httpPort });
    try {
      assert.equal((await httpStatus(gateway.httpPort, "/readyz")).status, 200, "ready before anyone subscribes");
      const subscription = await subscribeLive(client, "unreadable");
      try {
        const reason = await notReady(gateway.httpPort);
        assert.match(reason, /subscription reader failing/);
        assert.match(reason, /NOPERM/);
        assert.equal(await grpcHealthCheck(gateway.grpcPort), ServingStatus.NOT_SERVING);
      } finally {
        subscription.close();
      }
      await eventually("/readyz to answer 200 once nothing is read", async () =>
        (await httpStatus(gateway.httpPort, "/readyz")).status === 200 ? true : undefined,
      );
    } finally {
      await stop();
    }
  });
});

describe("the archiver on a Redis it cannot read", () => {
  let node: PrivateRedis;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  before(async () => {
    node = await PrivateRedis.start({ args: ["--cluster-enabled", "yes"] });
    database = await createDatabase();
  });
  after(async () => {
    await node.destroy();
    await database.drop();
  });

  it("counts its failing passes and lets its lag rise instead of standing at 0", async () => {
    const archiver = new Archiver(
      loadArchiverConfig({
        REDIS_URL: node.url,
        DATABASE_URL: database.url,
        ARCHIVE_IDLE_MS: "20",
        ARCHIVE_MAX_BACKOFF_MS: "200",
      }),
    );
    archiver.start();
    try {
      await eventually("two failed passes", () => (archiver.failingPasses >= 2 ? true : undefined));
      const first = archiver.lagSeconds();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = archiver.lagSeconds();
      assert.ok(first > 0, `lag ${first} s while every pass fails`);
      assert.ok(later > first, `lag rises: ${first} s then ${later} s`);
    } finally {
      await archiver.stop();
    }
  });
});
