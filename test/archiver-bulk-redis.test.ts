import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { BulkRedis } from "../archiver/src/bulk-redis.js";
import { PrivateRedis } from "./support/private-redis.js";

const OPTIONS = { commandTimeoutMs: 2_000, connectionName: "test-bulk" };

describe("the archiver's bulk Redis connection", () => {
  let redis: PrivateRedis;
  let admin: Redis;

  before(async () => {
    redis = await PrivateRedis.start();
    admin = redis.connect();
    await admin.config("SET", "requirepass", "s3cret");
  });
  after(async () => {
    admin.disconnect();
    await redis.destroy();
  });

  const url = (password: string, db: number) => `redis://:${password}@127.0.0.1:${redis.port}/${db}`;

  it("reads exactly what ioredis reads, after AUTH and SELECT from the URL", async () => {
    const ioredis = new Redis(url("s3cret", 3), { protocol: 2 });
    const bulk = BulkRedis.forUrl(url("s3cret", 3), OPTIONS) as BulkRedis;
    try {
      const body = Buffer.from("a\r\nbody\x00\xff", "latin1");
      for (let i = 0; i < 50; i++) await ioredis.xadd("s", "0-*", "b", body, "t", String(i), "x", String(i * 2));
      const [range, empty] = await bulk.call([
        ["XRANGE", "s", "(0-10", "+", "COUNT", "30"],
        ["XRANGE", "s", "(0-50", "+", "COUNT", "30"],
      ]);
      assert.deepEqual(range, await ioredis.xrangeBuffer("s", "(0-10", "+", "COUNT", 30));
      assert.deepEqual(empty, []);
      await assert.rejects(bulk.call([["GET", "s"]]), /WRONGTYPE/, "an error reply rejects the call");
      assert.deepEqual(await bulk.call([["PING"]]), ["PONG"], "and keeps the connection");
      assert.equal(await admin.exists("s"), 0, "SELECTed database 3, not 0");
    } finally {
      bulk.close();
      ioredis.disconnect();
    }
  });

  it("fails a call when AUTH fails", async () => {
    const bulk = BulkRedis.forUrl(url("wrong", 0), OPTIONS) as BulkRedis;
    try {
      await assert.rejects(bulk.call([["PING"]]), /WRONGPASS|invalid password/);
    } finally {
      bulk.close();
    }
  });

  it("connects again after the connection was killed, or the server restarted, and after a timeout", async () => {
    const bulk = BulkRedis.forUrl(url("s3cret", 0), { ...OPTIONS, commandTimeoutMs: 300 }) as BulkRedis;
    try {
      assert.deepEqual(await bulk.call([["PING"]]), ["PONG"]);
      await admin.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
      // The first call may or may not see the kill (the close can arrive before it); the next one works.
      const first = await bulk.call([["PING"]]).catch((err: unknown) => err);
      assert.ok(first instanceof Error || (Array.isArray(first) && first[0] === "PONG"), String(first));
      assert.deepEqual(await bulk.call([["PING"]]), ["PONG"], "the next call connects again");

      await assert.rejects(bulk.call([["BLPOP", "never", "2"]]), /timed out/);
      assert.deepEqual(await bulk.call([["ECHO", "after"]]), [Buffer.from("after")], "not the late BLPOP reply");

      await redis.stopServer();
      await assert.rejects(bulk.call([["PING"]]));
      await redis.startServer();
      const fresh = redis.connect();
      await fresh.config("SET", "requirepass", "s3cret");
      fresh.disconnect();
      assert.deepEqual(await bulk.call([["PING"]]), ["PONG"], "and after a restart");
    } finally {
      bulk.close();
    }
  });

  it("leaves URLs it does not handle to ioredis", () => {
    for (const other of [
      "redis://127.0.0.1:6379/0?family=6",
      "/tmp/redis.sock",
      "http://x",
      "redis://h/x",
      "nonsense",
    ]) {
      assert.equal(BulkRedis.forUrl(other, OPTIONS), undefined, other);
    }
    assert.ok(BulkRedis.forUrl("rediss://user:p%40ss@[::1]:6380/2", OPTIONS));
  });
});
