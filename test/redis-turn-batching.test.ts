import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { PrivateRedis } from "./support/private-redis.js";
import { bytes, text } from "./support/streams.js";

describe("Concurrent publishes and fetches on the Redis engine (batched per subject and turn)", () => {
  let stop: () => Promise<void>;
  let client: BrokerClient;
  before(async () => {
    const started = await startGateway("redis");
    stop = started.stop;
    client = brokerClient(started.gateway, "grpc");
  });
  after(() => stop());

  it("gives 300 concurrent publishes on one subject the distinct ids 1..300, each fetchable with its own body", async () => {
    const subject = "coalesce-many";
    const words = Array.from({ length: 300 }, (_, i) => `m${i}`);
    const replies = await Promise.all(
      words.map((word) => client.publish({ subject, body: bytes(word), expirationSeconds: 60 })),
    );
    const ids = replies.map((r) => Number(r.id));
    assert.deepEqual(
      [...ids].sort((a, b) => a - b),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    for (const [i, word] of words.entries()) {
      const fetched = await client.fetch({ subject, id: BigInt(ids[i] as number) });
      assert.equal(text(fetched.body), word);
    }
  });

  it("keeps ids consecutive per subject when publishes to several subjects interleave", async () => {
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        client.publish({ subject: `coalesce-mixed-${i % 3}`, body: bytes(`x${i}`), expirationSeconds: 60 }),
      ),
    );
    for (let s = 0; s < 3; s++) {
      const ids = replies.filter((_, i) => i % 3 === s).map((r) => Number(r.id));
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
    }
  });

  it("answers 300 concurrent fetches on one subject, each with its own message, unknown ids with INVALID_ARGUMENT", async () => {
    const subject = "coalesce-fetch";
    const { ids } = await client.publishBatch({
      messages: Array.from({ length: 250 }, (_, i) => ({ subject, body: bytes(`f${i}`), expirationSeconds: 60 })),
    });
    assert.equal(ids.length, 250);
    // Ids 1..250 exist; 251..300 were never published.
    const results = await Promise.allSettled(
      Array.from({ length: 300 }, (_, i) => client.fetch({ subject, id: BigInt(300 - i) })),
    );
    for (const [i, result] of results.entries()) {
      const id = 300 - i;
      if (id <= 250) {
        assert.equal(result.status, "fulfilled", `id ${id}`);
        if (result.status === "fulfilled") {
          assert.equal(result.value.id, BigInt(id));
          assert.equal(text(result.value.body), `f${id - 1}`);
        }
      } else {
        assert.equal(result.status, "rejected", `id ${id}`);
        if (result.status === "rejected") {
          assert.ok(result.reason instanceof ConnectError);
          assert.equal(result.reason.code, Code.InvalidArgument);
        }
      }
    }
  });

  it("publishes a lone message with id 1 on a new subject", async () => {
    const { id } = await client.publish({ subject: "coalesce-lone", body: bytes("one"), expirationSeconds: 60 });
    assert.equal(id, 1n);
  });
});

describe("Concurrent appends while Redis is unreachable", () => {
  it("fail each append instead of hanging", async () => {
    // Port 1 on loopback refuses connections: the engine never becomes ready.
    const engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: "redis://127.0.0.1:1", readerConnections: 1 });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => engine.append("down", bytes(`m${i}`), Date.now() + 60_000)),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        ["rejected", "rejected", "rejected", "rejected", "rejected"],
      );
    } finally {
      await engine.close();
    }
  });
});

describe("One turn's commands on the Redis engine", () => {
  it("reach Redis in one write (the command connection is corked for the turn)", async () => {
    // A Redis of its own, so its read counter counts this engine's writes only.
    const redis = await PrivateRedis.start();
    const inspector = redis.connect();
    const engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: redis.url, readerConnections: 1 });
    const subjects = Array.from({ length: 40 }, (_, i) => `corked-${i}`);
    const appendAll = (word: string) =>
      Promise.all(subjects.map((subject) => engine.append(subject, bytes(word), Date.now() + 60_000)));
    const readsProcessed = async () =>
      Number(/total_reads_processed:(\d+)/.exec((await inspector.info("stats")) as string)?.[1]);
    try {
      await engine.ready();
      await appendAll("first"); // creates the streams
      const before = await readsProcessed();
      // One XADD per subject, all issued in the same turn.
      const stored = await appendAll("second");
      const reads = (await readsProcessed()) - before;
      assert.deepEqual(
        stored.map((m) => m.id),
        subjects.map(() => 2),
      );
      // The 40 XADDs in one read (a few more would be a write each), plus the INFO asking.
      assert.ok(reads <= 3, `${reads} reads for 40 commands`);
    } finally {
      await engine.close();
      inspector.disconnect();
      await redis.destroy();
    }
  });
});
