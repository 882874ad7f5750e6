import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import {
  type ArchivedGateway,
  eventually,
  query,
  startArchivedGateway,
  waitArchivedThrough,
} from "./support/archive.js";
import { rejectsWith } from "./support/assertions.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { freePort } from "./support/node-process.js";
import { bytes, sleep, text } from "./support/streams.js";

describe("Fetch through the PostgreSQL archive", () => {
  let harness: ArchivedGateway;
  let client: BrokerClient;

  const waitArchived = (subject: string, id: number) => waitArchivedThrough(harness.database.url, subject, id);
  /** The ids of `subject` the archive holds, ascending. */
  const archivedIds = async (subject: string) =>
    (
      await query<{ id: string }>(
        harness.database.url,
        "SELECT id FROM broker_messages WHERE subject = $1 ORDER BY id",
        [subject],
      )
    ).map((row) => Number(row.id));
  /** Entries left in Redis for `subject`. */
  const streamLength = (subject: string) => harness.redis.xlen(harness.keys.stream(subject));

  before(async () => {
    harness = await startArchivedGateway(
      {},
      { ARCHIVE_HOT_COUNT: "5", ARCHIVE_HOT_AGE_MS: "0", ARCHIVE_RETENTION_INTERVAL_MS: "300" },
    );
    client = brokerClient(harness.gateway.gateway, "grpc");
  });

  after(() => harness.stop());

  it("serves ids Redis has trimmed from the archive, with exact binary bodies", async () => {
    const subject = "trimmed";
    const bodies = [new Uint8Array(256).map((_, i) => i), new Uint8Array(0), bytes("plain text")];
    for (let i = 0; i < 37; i++) bodies.push(new Uint8Array(randomBytes(1 + ((i * 37) % 900))));
    for (const body of bodies) await client.publish({ subject, body, expirationSeconds: 600 });
    await waitArchived(subject, bodies.length);
    await eventually(async () => (await streamLength(subject)) === 5, 5_000, "for trimming");
    assert.equal(await streamLength(subject), 5, "Redis keeps only the hot window");
    for (const [i, body] of bodies.entries()) {
      const fetched = await client.fetch({ subject, id: BigInt(i + 1) });
      assert.deepEqual(new Uint8Array(fetched.body), body, `body of id ${i + 1}`);
      assert.equal(fetched.id, BigInt(i + 1));
    }
    const overConnect = await brokerClient(harness.gateway.gateway, "connect").fetch({ subject, id: 1n });
    assert.deepEqual(new Uint8Array(overConnect.body), bodies[0]);
    await rejectsWith(client.fetch({ subject, id: 41n }), Code.InvalidArgument, /unknown id/);
  });

  it("reads an id known to be trimmed from Redis again when Redis holds it once more (ids reused after data loss)", async () => {
    const subject = "trimmed-then-reused";
    // Fire-and-forget: never archived, so the archive cannot answer for these ids.
    for (let i = 1; i <= 10; i++) await client.publish({ subject, body: bytes(`old${i}`), expirationSeconds: 0 });
    await waitArchived(subject, 10);
    await eventually(async () => (await streamLength(subject)) === 5, 5_000, "for trimming");
    // This Fetch teaches the gateway that ids up to 5 have left Redis.
    await rejectsWith(client.fetch({ subject, id: 2n }), Code.InvalidArgument, /no longer retained/);
    // Redis loses the stream and id 3 is assigned again (what a reused id looks like in Redis).
    await harness.redis.del(harness.keys.stream(subject));
    const now = Date.now();
    await harness.redis.xadd(harness.keys.stream(subject), "0-3", "b", "reused", "t", now, "x", now + 600_000);
    const fetched = await client.fetch({ subject, id: 3n });
    assert.equal(text(fetched.body), "reused", "what Redis holds, not a stale 'no longer retained'");
  });

  it("never archives fire-and-forget messages", async () => {
    const subject = "mixed";
    for (let i = 1; i <= 20; i++) {
      await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: i % 2 === 0 ? 0 : 600 });
    }
    await waitArchived(subject, 20);
    assert.deepEqual(await archivedIds(subject), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    assert.equal(text((await client.fetch({ subject, id: 3n })).body), "m3");
    // Trimmed from Redis and never archived: gone, and Fetch says so (not "unknown").
    await eventually(async () => (await streamLength(subject)) === 5, 5_000, "for trimming");
    await rejectsWith(client.fetch({ subject, id: 2n }), Code.InvalidArgument, /no longer retained/);
    // Still in Redis: Fetch says why.
    await rejectsWith(client.fetch({ subject, id: 20n }), Code.InvalidArgument, /fire-and-forget/);
  });

  it("skips messages that have already expired when the archiver reaches them", async () => {
    const subject = "expired-before-archiving";
    const engine = harness.gateway.gateway.engine;
    await engine.append(subject, bytes("stale"), Date.now() - 1);
    await engine.append(subject, bytes("fresh"), Date.now() + 600_000);
    await waitArchived(subject, 2);
    assert.deepEqual(await archivedIds(subject), [2]);
  });

  it("honours expiry for archived messages and deletes expired rows", async () => {
    const subject = "expiring";
    for (let i = 1; i <= 10; i++) await client.publish({ subject, body: bytes(`e${i}`), expirationSeconds: 1 });
    await waitArchived(subject, 10);
    assert.ok((await archivedIds(subject)).length > 0, "archived while still fetchable");
    await sleep(1_100);
    await rejectsWith(client.fetch({ subject, id: 1n }), Code.InvalidArgument, /expired/);
    await eventually(async () => (await archivedIds(subject)).length === 0, 5_000, "for the retention sweep");
    await rejectsWith(client.fetch({ subject, id: 1n }), Code.InvalidArgument, /expired/);
  });

  it("lets a reader catch up through the archive into Redis, skipping only unfetchable ids", async () => {
    const subject = "catch-up";
    for (let i = 1; i <= 30; i++) {
      await client.publish({ subject, body: bytes(`c${i}`), expirationSeconds: i === 7 ? 0 : 600 });
    }
    await waitArchived(subject, 30);
    await eventually(async () => (await streamLength(subject)) === 5, 5_000, "for trimming");
    const seen: number[] = [];
    let position = 0;
    for (let page = 0; page < 20 && position < 30; page++) {
      const result = await harness.gateway.gateway.engine.readAfter(subject, position, 8);
      assert.equal(result.gap, false, `no gap after ${position}`);
      for (const message of result.messages) seen.push(message.id);
      position = seen[seen.length - 1] ?? position;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1).filter((id) => id !== 7),
    );
  });

  it("answers UNAVAILABLE, never 'unknown id' or a reused id, when the archive is unreachable", async () => {
    const subject = "archive-down";
    for (let i = 1; i <= 10; i++) await client.publish({ subject, body: bytes(`d${i}`), expirationSeconds: 600 });
    await waitArchived(subject, 10);
    await eventually(async () => (await streamLength(subject)) === 5, 5_000, "for trimming");
    const unreachable = `postgres://postgres@127.0.0.1:${await freePort()}/none`;
    const blind = await startGateway("redis", { redisKeyPrefix: harness.prefix, databaseUrl: unreachable });
    try {
      const blindClient = brokerClient(blind.gateway, "grpc");
      await rejectsWith(blindClient.fetch({ subject, id: 2n }), Code.Unavailable, /storage unavailable/);
      assert.equal(
        text((await blindClient.fetch({ subject, id: 9n })).body),
        "d9",
        "Redis still serves the hot window",
      );
      const published = await blindClient.publish({ subject, body: bytes("d11"), expirationSeconds: 600 });
      assert.equal(published.id, 11n, "publishing goes on");
      // A new subject's first id must come from the archive's floor: without it, no guess.
      await rejectsWith(
        blindClient.publish({ subject: "brand-new", body: bytes("x"), expirationSeconds: 600 }),
        Code.Unavailable,
        /storage unavailable/,
      );
    } finally {
      await blind.gateway.close();
    }
  });
});
