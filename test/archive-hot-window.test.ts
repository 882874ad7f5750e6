import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { Archiver } from "../archiver/src/archiver.js";
import { loadArchiverConfig } from "../archiver/src/config.js";
import { createDatabase, eventually, query } from "./support/archive.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { REDIS_URL } from "./support/services.js";
import { bytes, sleep, text } from "./support/streams.js";

describe("the hot window the archiver leaves in Redis", () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let archiver: Archiver;
  let redis: Redis;

  before(async () => {
    database = await createDatabase();
    gateway = await startGateway("redis", { databaseUrl: database.url });
    archiver = new Archiver(
      loadArchiverConfig({
        REDIS_URL,
        DATABASE_URL: database.url,
        REDIS_KEY_PREFIX: gateway.config.redisKeyPrefix,
        ARCHIVE_HOT_COUNT: "3",
        ARCHIVE_HOT_AGE_MS: "2000",
        ARCHIVE_IDLE_MS: "20",
      }),
    );
    archiver.start();
    redis = new Redis(REDIS_URL, { protocol: 2 });
  });
  after(async () => {
    await archiver.stop();
    await gateway.stop();
    redis.disconnect();
    await database.drop();
  });

  it("keeps archived messages while they are young, then trims down to the newest ARCHIVE_HOT_COUNT", async () => {
    const client = brokerClient(gateway.gateway, "grpc");
    const subject = "aging";
    const publishedAt = Date.now();
    for (let i = 1; i <= 20; i++) await client.publish({ subject, body: bytes(`h${i}`), expirationSeconds: 600 });
    await eventually(
      async () =>
        (
          await query<{ through: string }>(
            database.url,
            "SELECT archived_through AS through FROM broker_archive_progress WHERE subject = $1",
            [subject],
          )
        )[0]?.through === "20",
      15_000,
      "for the archive",
    );
    await sleep(Math.max(0, publishedAt + 300 - Date.now()));
    assert.equal(await redis.xlen(gateway.config.redisKeyPrefix + subject), 20, "young messages stay in Redis");
    await eventually(
      async () => (await redis.xlen(gateway.config.redisKeyPrefix + subject)) === 3,
      5_000,
      "for the trim once they aged",
    );
    assert.equal(text((await client.fetch({ subject, id: 1n })).body), "h1", "and are fetched from the archive");
  });
});
