import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../gateway/src/engines/redis/redis-engine.js";
import { ArchiverProcess, createDatabase, eventually, query } from "./support/archive.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./support/services.js";
import { sleep } from "./support/streams.js";

const bodyOf = (subject: string, n: number) => `${subject}#${n}`;

/** Publishes `count` messages per subject, every 10th fire-and-forget, in pipelined rounds. */
async function publish(engine: RedisEngine, subjects: readonly string[], from: number, count: number): Promise<void> {
  for (let n = from; n < from + count; n += 100) {
    const round: Promise<unknown>[] = [];
    for (let k = n; k < Math.min(n + 100, from + count); k++) {
      for (const subject of subjects) {
        round.push(engine.append(subject, Buffer.from(bodyOf(subject, k)), k % 10 === 0 ? 0 : Date.now() + 600_000));
      }
    }
    await Promise.all(round);
  }
}

/** Every archived row, checked against what was published: each fetchable message exactly once. */
async function assertExactlyOnce(url: string, subjects: readonly string[], perSubject: number): Promise<void> {
  const rows = await query<{ subject: string; id: string; body: Buffer }>(
    url,
    "SELECT subject, id, body FROM broker_messages ORDER BY subject, id",
  );
  const expected = subjects.length * (perSubject - Math.floor(perSubject / 10));
  assert.equal(rows.length, expected, "every fetchable message is archived");
  const seen = new Set<string>();
  for (const row of rows) {
    const key = `${row.subject}/${row.id}`;
    assert.ok(!seen.has(key), `${key} archived once`);
    seen.add(key);
    // Ids follow publish order per subject (Promise.all keeps command order on one connection).
    assert.equal(row.body.toString(), bodyOf(row.subject, Number(row.id) - 1), `body of ${key}`);
  }
}

describe("the archiver process under crashes and replicas", () => {
  let prefix: string;
  let engine: RedisEngine;
  let database: Awaited<ReturnType<typeof createDatabase>>;
  const processes: ArchiverProcess[] = [];

  const spawnArchiver = (extra: Record<string, string> = {}) => {
    const child = new ArchiverProcess({
      REDIS_URL,
      DATABASE_URL: database.url,
      REDIS_KEY_PREFIX: prefix,
      ARCHIVE_BATCH_SIZE: "300",
      ARCHIVE_HOT_COUNT: "50",
      ARCHIVE_HOT_AGE_MS: "0",
      ...extra,
    });
    processes.push(child);
    return child;
  };
  // 0 until the first archiver has created the schema.
  const archivedCount = () =>
    query<{ n: string }>(database.url, "SELECT count(*) AS n FROM broker_messages").then(
      (rows) => Number(rows[0]?.n ?? 0),
      () => 0,
    );
  const progress = async (subjects: readonly string[]) =>
    // Not a min over rows that do not exist yet: every subject must have its row.
    (
      await query<{ through: string }>(
        database.url,
        `SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(archived_through) ELSE 0 END AS through
         FROM broker_archive_progress WHERE subject = ANY($1)`,
        [subjects],
      )
    )[0]?.through;

  // Each test has its own key prefix (so its archivers see only its subjects) and database.
  beforeEach(async () => {
    prefix = uniquePrefix("archiver-crash");
    engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: REDIS_URL, keyPrefix: prefix });
    await engine.ready();
    database = await createDatabase();
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((p) => p.stop()));
    await engine.close();
    await deleteGatewayKeys(REDIS_URL, prefix);
    await database.drop();
  });

  it("loses and duplicates nothing when SIGKILLed mid-batch and restarted, again and again", async (t) => {
    {
      const subjects = ["k1", "k2", "k3"];
      const perSubject = 6_000;
      await publish(engine, subjects, 0, perSubject);
      const total = subjects.length * (perSubject - perSubject / 10);
      let kills = 0;
      for (let round = 0; round < 3; round++) {
        const child = spawnArchiver();
        const before = await archivedCount();
        // Kill it once it has copied something more, at a moment that varies run to run.
        await eventually(async () => (await archivedCount()) > before, 20_000, "for progress");
        await sleep(Math.floor(Math.random() * 40));
        if ((await archivedCount()) >= total) break;
        child.kill("SIGKILL");
        await child.exited;
        kills += 1;
      }
      assert.ok(kills >= 1, "killed at least once before finishing");
      t.diagnostic(`SIGKILLed ${kills} times at ${await archivedCount()} of ${total} rows`);
      const last = spawnArchiver();
      await eventually(async () => Number(await progress(subjects)) >= perSubject, 30_000, "for the backlog");
      await eventually(async () => last.stats?.transactions !== undefined, 5_000, "for a stats line");
      assert.equal(last.stats?.conflicts, 0, "the restarted archiver never re-inserted a committed row");
      await assertExactlyOnce(database.url, subjects, perSubject);
      await last.stop();
    }
  });

  it("runs two archivers at once without both writing a row, and one takes over when the other dies", async () => {
    {
      const subjects = Array.from({ length: 12 }, (_, i) => `r${i}`);
      const a = spawnArchiver();
      const b = spawnArchiver();
      await eventually(async () => a.lines.some((l) => l.msg === "archiver ready"), 20_000, "for archiver a");
      await eventually(async () => b.lines.some((l) => l.msg === "archiver ready"), 20_000, "for archiver b");
      await publish(engine, subjects, 0, 1_000);
      await eventually(async () => Number(await progress(subjects)) >= 1_000, 30_000, "for both to archive");
      await sleep(300); // a stats line after the last batch
      assert.ok((a.stats?.copied ?? 0) > 0 && (b.stats?.copied ?? 0) > 0, "both archivers took a share");
      a.kill("SIGKILL");
      await a.exited;
      await publish(engine, subjects, 1_000, 1_000);
      await eventually(async () => Number(await progress(subjects)) >= 2_000, 30_000, "for the survivor");
      await sleep(300);
      assert.equal((a.stats?.conflicts ?? 0) + (b.stats?.conflicts ?? 0), 0, "no row was offered twice");
      await assertExactlyOnce(database.url, subjects, 2_000);
    }
  });
});
