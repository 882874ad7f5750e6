import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { copyTuples } from "../archiver/src/archive-sql.js";
import { encodeCopyTuples } from "../archiver/src/copy-encoding.js";
import { decodeStreamEntry } from "../archiver/src/entry-decoding.js";
import { loadMigrations, migrate } from "../archiver/src/migrations.js";
import type { StoredMessage } from "../gateway/src/core/message.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { decodeEntry } from "../gateway/src/storage/stream-entry.js";
import { createDatabase, eventually, query, startArchiver, waitArchivedThrough } from "./support/archive.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";

const b = (text: string) => Buffer.from(text, "latin1");

describe("the archiver's fast entry decoding", () => {
  it("decodes exactly as decodeEntry, for the gateway's entries and for any other shape", () => {
    const body = Buffer.from([0, 1, 2, 255, 13, 10]);
    const cases: [id: Buffer, fields: Buffer[]][] = [
      [b("0-1"), [b("b"), body, b("t"), b("1764270000123"), b("x"), b("1764273600123")]],
      [b("0-9007199254740991"), [b("b"), b(""), b("t"), b("0"), b("x"), b("0")]],
      [b("0-42"), [b("x"), b("3869999999999"), b("b"), body, b("t"), b("17")]],
      // Not the gateway's shape: the slow path must give decodeEntry's answer.
      [b("0-7"), [b("b"), body, b("t"), b("-5"), b("x"), b("1.5")]],
      [b("0-8"), [b("b"), body, b("t"), b(""), b("x"), b(" 12")]],
      [b("0-9"), [b("body"), body, b("t"), b("1"), b("extra"), b("z"), b("x"), b("2")]],
      [b("0-10"), [b("b"), body, b("t")]],
      [b("12"), [b("b"), body]],
      [b("0-"), [b("b"), body]],
    ];
    for (const [id, fields] of cases) {
      assert.deepEqual(
        decodeStreamEntry("subject", id, fields),
        decodeEntry("subject", id, fields),
        `entry ${id.toString()} ${fields.map((f) => f.toString()).join(",")}`,
      );
    }
  });
});

describe("the archiver's binary COPY", () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let pool: pg.Pool;

  before(async () => {
    database = await createDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await migrate(pool, await loadMigrations());
  });
  after(async () => {
    await pool.end();
    await database.drop();
  });

  it("writes every value exactly: UTF-8 subjects, any bytes, empty bodies, 53-bit and negative numbers", async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const rows: StoredMessage[] = [
      { subject: "plain", id: 1, body: every, publishedAt: 1_764_270_000_123, expiresAt: 3_869_999_999_999 },
      { subject: "plain", id: 2, body: new Uint8Array(0), publishedAt: 0, expiresAt: 1 },
      { subject: "ünï/цвет 🚀", id: Number.MAX_SAFE_INTEGER, body: b("x"), publishedAt: -1, expiresAt: 2 ** 32 },
      {
        subject: "",
        id: 2 ** 32 - 1,
        body: Buffer.alloc(70_000, 7),
        publishedAt: -(2 ** 40) - 3,
        expiresAt: 2 ** 32 + 1,
      },
    ];
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      assert.equal(await copyTuples(client, [encodeCopyTuples(rows)]), rows.length, "COPY reports the rows it wrote");
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    const stored = await query<{ subject: string; id: string; body: Buffer; published_at: string; expires_at: string }>(
      database.url,
      "SELECT subject, id, body, published_at, expires_at FROM broker_messages",
    );
    const key = (subject: string, id: number | string) => `${subject}/${id}`;
    const byKey = new Map(stored.map((row) => [key(row.subject, row.id), row]));
    assert.equal(stored.length, rows.length);
    for (const row of rows) {
      const got = byKey.get(key(row.subject, row.id));
      assert.ok(got, `row ${key(row.subject, row.id)} stored`);
      assert.deepEqual(Buffer.from(got.body), Buffer.from(row.body));
      assert.equal(BigInt(got.published_at), BigInt(row.publishedAt));
      assert.equal(BigInt(got.expires_at), BigInt(row.expiresAt));
    }
  });

  it("copies nothing for no rows, and rows split over several chunks", async () => {
    const row = (id: number): StoredMessage => ({
      subject: "split",
      id,
      body: b(`s${id}`),
      publishedAt: 1,
      expiresAt: 2,
    });
    const client = await pool.connect();
    try {
      assert.equal(await copyTuples(client, []), 0);
      assert.equal(await copyTuples(client, [encodeCopyTuples([])]), 0);
      const chunks = [encodeCopyTuples([row(1), row(2)]), encodeCopyTuples([]), encodeCopyTuples([row(3)])];
      assert.equal(await copyTuples(client, chunks), 3);
    } finally {
      client.release();
    }
  });
});

describe("the archiver when a row is already archived", () => {
  const prefix = uniquePrefix("archiver-copy");
  let engine: RedisEngine;
  let database: Awaited<ReturnType<typeof createDatabase>>;

  before(async () => {
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: REDIS_URL, keyPrefix: prefix });
    await engine.ready();
    database = await createDatabase();
  });
  after(async () => {
    await engine.close();
    await deleteGatewayKeys(REDIS_URL, prefix);
    await database.drop();
  });

  it("keeps the row there, copies the rest of the batch, and counts one conflict", async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 1 });
    await migrate(pool, await loadMigrations());
    // Id 3 is in PostgreSQL already, but the watermark does not say so (the
    // defence line: COPY fails on it, and the batch is copied again with ON CONFLICT).
    await pool.query(
      "INSERT INTO broker_messages (subject, id, body, published_at, expires_at) VALUES ('dup', 3, 'old', 1, $1)",
      [Date.now() + 600_000],
    );
    await pool.end();
    for (let i = 1; i <= 5; i++) await engine.append("dup", b(`new${i}`), Date.now() + 600_000);
    const archiver = startArchiver({ redisUrl: REDIS_URL, databaseUrl: database.url, keyPrefix: prefix });
    try {
      await waitArchivedThrough(database.url, "dup", 5);
      // The stats follow the COMMIT's reply, a moment after the watermark is visible.
      await eventually(async () => archiver.stats.transactions > 0, 5_000, "for the batch's stats");
      assert.equal(archiver.stats.conflicts, 1, "the row already there is counted as a conflict");
      assert.equal(archiver.stats.copied, 4, "the four others are copied");
    } finally {
      await archiver.stop();
    }
    const rows = await query<{ id: string; body: Buffer }>(
      database.url,
      "SELECT id, body FROM broker_messages WHERE subject = 'dup' ORDER BY id",
    );
    assert.deepEqual(
      rows.map((row) => `${row.id}:${row.body.toString()}`),
      ["1:new1", "2:new2", "3:old", "4:new4", "5:new5"],
    );
  });
});
