import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { ErrorInfoSchema } from "../gateway/gen/google/rpc/error_details_pb.js";
import { BrokerError } from "../gateway/src/core/errors.js";
import { ArchiveStore } from "../gateway/src/engines/archive/archive-store.js";
import { RedisKeys } from "../gateway/src/storage/redis-keys.js";
import { createDatabase, query } from "./support/archive.js";
import { brokerClient, type Ports, type Route } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { captureLog, type LogLine } from "./support/log-capture.js";
import { freePort } from "./support/node-process.js";
import { PrivateRedis } from "./support/private-redis.js";
import { REDIS_URL } from "./support/services.js";
import { bytes } from "./support/streams.js";

/** Asserts a ConnectError of `code` whose ErrorInfo says `reason`; returns its message. */
async function rejectsWithReason(call: Promise<unknown>, code: Code, reason: string): Promise<string> {
  let message = "";
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.rawMessage);
    const info = err.findDetails(ErrorInfoSchema);
    assert.deepEqual(
      info.map((i) => [i.domain, i.reason]),
      [["broker.gateway", reason]],
    );
    message = err.rawMessage;
    return true;
  });
  return message;
}

function logged(lines: LogLine[], predicate: (line: LogLine) => boolean): LogLine {
  const line = lines.find(predicate);
  assert.ok(line, `no such log line among ${JSON.stringify(lines, null, 1)}`);
  return line;
}

const errText = (line: LogLine): string => JSON.stringify(line.err ?? {});

describe("a storage bug (Redis answers WRONGTYPE: a string where a subject's stream belongs) surfaces as INTERNAL", () => {
  const { log, lines } = captureLog();
  let ports: Ports;
  let keys: RedisKeys;
  let redis: Redis;
  let stop: () => Promise<void>;

  before(async () => {
    const started = await startGateway("redis", {}, { log });
    ports = started.gateway;
    stop = started.stop;
    keys = new RedisKeys(started.config.redisKeyPrefix);
    redis = new Redis(REDIS_URL, { protocol: 2 });
  });
  after(async () => {
    redis?.disconnect();
    await stop?.();
  });

  async function wrongType(subject: string): Promise<void> {
    await redis.set(keys.stream(subject), "not a stream");
  }

  it("answers Publish, Fetch and Subscribe with INTERNAL 'internal error' and logs each cause once, at error", async () => {
    const subject = "wrong-type";
    await wrongType(subject);
    const client = brokerClient(ports, "grpc");
    const publish = client.publish({ subject, body: bytes("x"), expirationSeconds: 60 });
    assert.equal(await rejectsWithReason(publish, Code.Internal, "INTERNAL"), "internal error");
    const fetch = client.fetch({ subject, id: 1n });
    assert.equal(await rejectsWithReason(fetch, Code.Internal, "INTERNAL"), "internal error");
    const subscribe = (async () => {
      for await (const _ of client.subscribe({ subject })) return;
    })();
    assert.equal(await rejectsWithReason(subscribe, Code.Internal, "INTERNAL"), "internal error");

    for (const operation of ["append", "get", "lastId"]) {
      const found = lines.filter((l) => l.operation === operation && l.subject === subject);
      assert.equal(found.length, 1, `one line for ${operation}: ${JSON.stringify(found)}`);
      const line = found[0] as LogLine;
      assert.equal(line.level, "error");
      assert.equal(line.storage, "redis");
      assert.match(errText(line), /WRONGTYPE/, "the log keeps the cause");
    }
    // Logged at the adapter, not once more by the core or the transport.
    assert.equal(lines.filter((l) => /a bug/.test(l.msg) && l.storage === undefined).length, 0);
  });

  for (const route of ["connect", "grpc-web"] as const satisfies readonly Route[]) {
    it(`never sends Redis's own text to the client over ${route}`, async () => {
      const subject = `wrong-type-${route}`;
      await wrongType(subject);
      const client = brokerClient(ports, route);
      const message = await rejectsWithReason(
        client.publish({ subject, body: bytes("x"), expirationSeconds: 60 }),
        Code.Internal,
        "INTERNAL",
      );
      assert.equal(message, "internal error");
    });
  }
});

describe("Redis down: calls answer UNAVAILABLE (STORAGE_UNAVAILABLE) with a short message, logged once per interval", () => {
  const { log, lines } = captureLog();
  let redis: PrivateRedis;
  let ports: Ports;
  let stop: () => Promise<void>;

  before(async () => {
    redis = await PrivateRedis.start();
    const started = await startGateway("redis", { redisUrl: redis.url }, { log });
    ports = started.gateway;
    stop = started.stop;
  });
  after(async () => {
    // Back up, so stopping the gateway can remove its keys.
    await redis?.startServer();
    await stop?.();
    await redis?.destroy();
  });

  it("fails each Publish at once with UNAVAILABLE and writes one warn line for all of them", async () => {
    await redis.stopServer();
    const client = brokerClient(ports, "connect");
    for (let i = 0; i < 20; i++) {
      const message = await rejectsWithReason(
        client.publish({ subject: "down", body: bytes("x"), expirationSeconds: 60 }),
        Code.Unavailable,
        "STORAGE_UNAVAILABLE",
      );
      assert.match(message, /^storage unavailable: Redis (connection lost|unreachable)$/);
    }
    const appends = lines.filter((l) => l.operation === "append");
    assert.equal(appends.length, 1, JSON.stringify(appends));
    assert.equal(appends[0]?.level, "warn");
    assert.equal(appends[0]?.reason, "STORAGE_UNAVAILABLE");
  });
});

describe("Redis that cannot take writes right now (a read-only replica) answers UNAVAILABLE, not INTERNAL", () => {
  let redis: PrivateRedis;
  let ports: Ports;
  let stop: () => Promise<void>;

  before(async () => {
    redis = await PrivateRedis.start();
    const started = await startGateway("redis", { redisUrl: redis.url }, { log: captureLog().log });
    ports = started.gateway;
    stop = started.stop;
  });
  after(async () => {
    const inspector = redis?.connect();
    await inspector?.replicaof("NO", "ONE");
    inspector?.disconnect();
    await stop?.();
    await redis?.destroy();
  });

  it("refuses a Publish with STORAGE_UNAVAILABLE while Redis is a replica, and stores it once it is a master again", async () => {
    const client = brokerClient(ports, "grpc");
    await client.publish({ subject: "replica", body: bytes("before"), expirationSeconds: 60 });
    const inspector = redis.connect();
    try {
      // A master that does not exist: Redis stays a read-only replica (READONLY to writes).
      await inspector.replicaof("127.0.0.1", String(await freePort()));
      const message = await rejectsWithReason(
        client.publish({ subject: "replica", body: bytes("refused"), expirationSeconds: 60 }),
        Code.Unavailable,
        "STORAGE_UNAVAILABLE",
      );
      assert.equal(message, "storage unavailable: Redis is a read-only replica");
      await inspector.replicaof("NO", "ONE");
      const { id } = await client.publish({ subject: "replica", body: bytes("after"), expirationSeconds: 60 });
      assert.equal(id, 2n);
    } finally {
      inspector.disconnect();
    }
  });
});

describe("archive (PostgreSQL) errors are classified where they arise", () => {
  it("answers INTERNAL and logs the cause when the archive's schema is not what the gateway reads", async () => {
    const db = await createDatabase();
    const { log, lines } = captureLog();
    // The progress table without the column the gateway selects: a real SQL error (42703).
    await query(db.url, "CREATE TABLE broker_archive_progress (subject text PRIMARY KEY)");
    const store = new ArchiveStore({ url: db.url, maxConnections: 1, timeoutMs: 2_000, log });
    try {
      await assert.rejects(store.lastId("s"), (err: unknown) => {
        assert.ok(err instanceof BrokerError);
        assert.equal(err.code, "internal");
        assert.equal(err.reason, "INTERNAL");
        assert.equal(err.message, "internal error");
        return true;
      });
      const line = logged(lines, (l) => l.operation === "archive lastId");
      assert.equal(line.level, "error");
      assert.match(errText(line), /archived_through/);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  it("answers UNAVAILABLE when nothing listens where the archive should be", async () => {
    const { log, lines } = captureLog();
    const store = new ArchiveStore({
      url: `postgres://postgres@127.0.0.1:${await freePort()}/test`,
      maxConnections: 1,
      timeoutMs: 2_000,
      log,
    });
    try {
      await assert.rejects(store.get("s", 1), (err: unknown) => {
        assert.ok(err instanceof BrokerError);
        assert.equal(err.code, "unavailable");
        assert.equal(err.reason, "STORAGE_UNAVAILABLE");
        assert.equal(err.message, "storage unavailable: archive unreachable");
        return true;
      });
      assert.equal(logged(lines, (l) => l.operation === "archive get").level, "warn");
    } finally {
      await store.close();
    }
  });
});
