import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { GatewayConfig } from "../gateway/src/config.js";
import { eventually, PrivatePostgres, query, startArchiver, waitArchivedThrough } from "./support/archive.js";
import { rejectsWith } from "./support/assertions.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { REDIS_URL } from "./support/services.js";
import { bytes, subscribeLive, text } from "./support/streams.js";

describe("PostgreSQL outages (a private cluster, stopped and started)", () => {
  let postgres: PrivatePostgres;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    postgres = await PrivatePostgres.start();
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await postgres.destroy();
  });

  /** A gateway on the shared Redis and the private archive, with an archiver of its own. */
  async function setUp(overrides: Partial<GatewayConfig> = {}) {
    const gateway = await startGateway("redis", { databaseUrl: postgres.url, ...overrides });
    const archiver = startArchiver(
      { redisUrl: REDIS_URL, databaseUrl: postgres.url, keyPrefix: gateway.config.redisKeyPrefix },
      { ARCHIVE_HOT_COUNT: "20", ARCHIVE_HOT_AGE_MS: "0", ARCHIVE_MAX_BACKOFF_MS: "200" },
    );
    cleanups.push(async () => {
      await archiver.stop();
      await gateway.stop();
    });
    return { client: brokerClient(gateway.gateway, "grpc"), gateway, archiver };
  }

  it("keeps publishing and live delivery going while PostgreSQL is down, then archives everything", async () => {
    const { client } = await setUp();
    const subject = "outage";
    for (let i = 1; i <= 100; i++) await client.publish({ subject, body: bytes(`o${i}`), expirationSeconds: 600 });
    await waitArchivedThrough(postgres.url, subject, 100, 15_000);
    const subscriber = await subscribeLive(client, subject);
    await postgres.pause();
    try {
      for (let i = 101; i <= 400; i++) {
        const { id } = await client.publish({ subject, body: bytes(`o${i}`), expirationSeconds: 600 });
        assert.equal(id, BigInt(i));
      }
      const delivered = await subscriber.waitFor(300);
      assert.equal(text(delivered[299]?.body ?? new Uint8Array()), "o400", "live delivery went on");
      await rejectsWith(client.fetch({ subject, id: 1n }), Code.Unavailable, /storage unavailable/);
      assert.equal(text((await client.fetch({ subject, id: 399n })).body), "o399", "Redis still serves its window");
    } finally {
      subscriber.close();
      await postgres.resume();
    }
    await waitArchivedThrough(postgres.url, subject, 400, 20_000);
    const rows = await query<{ n: string }>(
      postgres.url,
      "SELECT count(*) AS n FROM broker_messages WHERE subject = $1",
      [subject],
    );
    assert.equal(Number(rows[0]?.n), 400, "nothing lost");
    await eventually(async () => text((await client.fetch({ subject, id: 1n })).body) === "o1", 5_000, "for Fetch");
    await eventually(async () => text((await client.fetch({ subject, id: 150n })).body) === "o150", 5_000);
  });

  it("drops the oldest unarchived messages once REDIS_MAXLEN is reached, and says they are gone", async () => {
    const { client, gateway, archiver } = await setUp({ redisMaxLenPerSubject: 100 });
    const subject = "overflow";
    for (let i = 1; i <= 50; i++) await client.publish({ subject, body: bytes(`v${i}`), expirationSeconds: 600 });
    await waitArchivedThrough(postgres.url, subject, 50, 15_000);
    await postgres.pause();
    try {
      for (let i = 51; i <= 1050; i++) await client.publish({ subject, body: bytes(`v${i}`), expirationSeconds: 600 });
    } finally {
      await postgres.resume();
    }
    await waitArchivedThrough(postgres.url, subject, 1050, 20_000);
    const gaps = await query<{ from_id: string; to_id: string }>(
      postgres.url,
      "SELECT from_id, to_id FROM broker_archive_gaps WHERE subject = $1",
      [subject],
    );
    assert.equal(gaps.length, 1, "the loss is recorded");
    const lostTo = Number(gaps[0]?.to_id);
    assert.equal(Number(gaps[0]?.from_id), 51);
    assert.ok(lostTo >= 800 && lostTo < 1050 - 100 + 1, `Redis kept at least its newest 100 (lost to ${lostTo})`);
    assert.equal(archiver.stats.lost, lostTo - 50);
    await rejectsWith(client.fetch({ subject, id: 51n }), Code.InvalidArgument, /no longer retained/);
    assert.equal(text((await client.fetch({ subject, id: 10n })).body), "v10", "archived before the outage");
    assert.equal(text((await client.fetch({ subject, id: 1050n })).body), "v1050");
    assert.equal(text((await client.fetch({ subject, id: BigInt(lostTo + 1) })).body), `v${lostTo + 1}`);
    const catchUp = await gateway.gateway.engine.readAfter(subject, 50, 100);
    assert.equal(catchUp.gap, true, "a reader resuming at 50 learns that messages are missing");
  });
});
