import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { ArchiveStore } from "../gateway/src/engines/archive/archive-store.js";
import { createDatabase, query } from "./support/archive.js";

const SCHEMA = readFileSync(new URL("../archiver/migrations/001_create_archive.sql", import.meta.url), "utf8");

async function insert(url: string, subject: string, id: number, body: Buffer, publishedAt = 1_000, expiresAt = 9e12) {
  await query(
    url,
    "INSERT INTO broker_messages (subject, id, body, published_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    [subject, id, body, publishedAt, expiresAt],
  );
}

describe("ArchiveStore point lookups (the archived Fetch's read)", () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: ArchiveStore;

  before(async () => {
    db = await createDatabase();
    store = new ArchiveStore({ url: db.url, maxConnections: 3, timeoutMs: 2_000 });
  });
  after(async () => {
    await store.close();
    await db.drop();
  });

  it("answers 'not archived' before the schema exists, and finds rows once it does (prepared again)", async () => {
    assert.equal(await store.get("s", 1), undefined);
    assert.equal(await store.get("s", 1), undefined, "a second failed prepare on the same connection");
    await query(db.url, SCHEMA);
    await insert(db.url, "s", 1, Buffer.from("one"));
    const message = await store.get("s", 1);
    assert.deepEqual(message, { id: 1, subject: "s", body: Buffer.from("one"), publishedAt: 1_000, expiresAt: 9e12 });
    assert.equal(await store.get("s", 2), undefined, "a missing id");
    assert.equal(await store.get("t", 1), undefined, "another subject");
  });

  it("returns every byte value, empty bodies, large ids and multibyte subjects intact", async () => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = 2 ** 53 - 1;
    await insert(db.url, "ünï/çødé", big, every, 1_700_000_000_123, 1_700_000_060_123);
    await insert(db.url, "empty", 7, Buffer.alloc(0));
    const message = await store.get("ünï/çødé", big);
    assert.ok(message);
    assert.equal(message.id, big);
    assert.deepEqual(Buffer.from(message.body), every);
    assert.equal(message.publishedAt, 1_700_000_000_123);
    assert.equal(message.expiresAt, 1_700_000_060_123);
    assert.equal((await store.get("empty", 7))?.body.byteLength, 0);
  });

  it("reads bytea in the escape output format too", async () => {
    const name = new URL(db.url).pathname.slice(1);
    await query(db.url, `ALTER DATABASE ${name} SET bytea_output = 'escape'`);
    const escaped = new ArchiveStore({ url: db.url, maxConnections: 1, timeoutMs: 2_000 });
    try {
      await insert(db.url, "esc", 1, Buffer.from([0, 92, 39, 200, 65]));
      assert.deepEqual(Buffer.from((await escaped.get("esc", 1))?.body ?? []), Buffer.from([0, 92, 39, 200, 65]));
    } finally {
      await escaped.close();
      await query(db.url, `ALTER DATABASE ${name} RESET bytea_output`);
    }
  });

  it("answers many concurrent lookups over few connections, each with its own row", async () => {
    for (let id = 1; id <= 50; id++) await insert(db.url, "many", id, Buffer.from(`m${id}`));
    const ids = Array.from({ length: 500 }, (_, i) => 1 + ((i * 7) % 60));
    const found = await Promise.all(ids.map((id) => store.get("many", id)));
    found.forEach((message, i) => {
      const id = ids[i] as number;
      if (id > 50) assert.equal(message, undefined);
      else assert.equal(message?.body.toString(), `m${id}`);
    });
  });

  it("reconnects after its connections are killed", async () => {
    await insert(db.url, "kill", 1, Buffer.from("k"));
    assert.equal((await store.get("kill", 1))?.body.toString(), "k");
    await query(
      db.url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'broker-gateway' AND datname = current_database()",
    );
    let body: string | undefined;
    for (let attempt = 0; attempt < 20 && body === undefined; attempt++) {
      body = await store.get("kill", 1).then(
        (message) => message?.body.toString(),
        () => undefined,
      );
    }
    assert.equal(body, "k");
  });
});
