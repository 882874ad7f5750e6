import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { BulkRedis } from "../archiver/src/bulk-redis.js";
import { RespError, RespParser, type RespValue } from "../archiver/src/resp-parser.js";
import { PrivateRedis } from "./support/private-redis.js";

const OPTIONS = { commandTimeoutMs: 2_000, connectionName: "test-bulk" };

/** Parses `wire` fed in the given chunk sizes (cycled); returns every reply. */
function parse(wire: Buffer, sizes: readonly number[]): RespValue[] {
  const replies: RespValue[] = [];
  const parser = new RespParser((reply) => replies.push(reply));
  for (let at = 0, k = 0; at < wire.length; k++) {
    const size = sizes[k % sizes.length] as number;
    parser.feed(wire.subarray(at, at + size));
    at += size;
  }
  return replies;
}

describe("the archiver's RESP parser", () => {
  const big = Buffer.alloc(200_000, 0x0d);
  const wire = Buffer.concat([
    Buffer.from("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$-1\r\n*-1\r\n*0\r\n$0\r\n\r\n"),
    Buffer.from("$4\r\na\r\nb\r\n"),
    Buffer.from("*2\r\n*2\r\n$3\r\n0-1\r\n*2\r\n$1\r\nb\r\n$2\r\n\xff\x00\r\n*1\r\n:5\r\n", "latin1"),
    Buffer.from(`$${big.length}\r\n`),
    big,
    Buffer.from("\r\n*3\r\n$1\r\nx\r\n*0\r\n+done\r\n"),
  ]);
  const expected: RespValue[] = [
    "OK",
    new RespError("ERR wrong"),
    42,
    -7,
    null,
    null,
    [],
    Buffer.alloc(0),
    Buffer.from("a\r\nb"),
    [[Buffer.from("0-1"), [Buffer.from("b"), Buffer.from([0xff, 0])]], [5]],
    big,
    [Buffer.from("x"), [], "done"],
  ];

  it("parses every kind of reply, whole or split anywhere", () => {
    assert.deepEqual(parse(wire, [wire.length]), expected);
    // Every split into two chunks around the small replies, and many chunk patterns through the large one.
    for (let cut = 1; cut < 120; cut++) assert.deepEqual(parse(wire, [cut, wire.length]), expected, `cut at ${cut}`);
    for (const sizes of [[1], [2], [3], [7], [64], [1000, 1], [65_536], [5, 70_000, 13]]) {
      assert.deepEqual(parse(wire, sizes), expected, `chunks of ${sizes.join(",")}`);
    }
  });

  it("throws on bytes that are not RESP", () => {
    const parser = new RespParser(() => {});
    assert.throws(() => parser.feed(Buffer.from("?what\r\n")), /malformed RESP/);
    assert.throws(() => new RespParser(() => {}).feed(Buffer.from(":4x\r\n")), /malformed RESP integer/);
  });
});

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
      const [range, wrong] = await bulk.call([
        ["XRANGE", "s", "(0-10", "+", "COUNT", "30"],
        ["GET", "s"],
      ]);
      assert.deepEqual(range, await ioredis.xrangeBuffer("s", "(0-10", "+", "COUNT", 30));
      assert.ok(wrong instanceof RespError && /WRONGTYPE/.test(wrong.message), "error replies come back as values");
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
