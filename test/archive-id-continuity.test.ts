import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Redis } from "ioredis";
import {
  createDatabase,
  eventually,
  query,
  startArchiver,
  startPrivateRedis,
  waitArchivedThrough,
} from "./support/archive.js";
import { brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { bytes, subscribeLive, text } from "./support/streams.js";

describe("ids are never reused after Redis loses its data (a private Redis, FLUSHALLed)", () => {
  let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
  let database: Awaited<ReturnType<typeof createDatabase>>;

  before(async () => {
    redis = await startPrivateRedis();
    database = await createDatabase();
  });
  after(async () => {
    await redis.stop();
    await database.drop();
  });

  it("continues above the archived ids, and Fetch of an old id returns the old body", async () => {
    const gateway = await startGateway("redis", { redisUrl: redis.url, databaseUrl: database.url });
    const archiver = startArchiver({
      redisUrl: redis.url,
      databaseUrl: database.url,
      keyPrefix: gateway.config.redisKeyPrefix,
    });
    const admin = new Redis(redis.url, { protocol: 2 });
    try {
      const client = brokerClient(gateway.gateway, "grpc");
      const subject = "continuity";
      for (let i = 1; i <= 10; i++) await client.publish({ subject, body: bytes(`old ${i}`), expirationSeconds: 600 });
      await waitArchivedThrough(database.url, subject, 10);
      await admin.flushall();
      assert.equal(await admin.dbsize(), 0, "Redis lost everything");

      // Before any new publish: old ids come from the archive, later ones are unknown.
      assert.equal(text((await client.fetch({ subject, id: 10n })).body), "old 10");
      await assert.rejects(
        client.fetch({ subject, id: 11n }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === Code.InvalidArgument && /unknown id/.test(err.rawMessage),
      );
      const subscriber = await subscribeLive(client, subject);
      try {
        const next = await client.publish({ subject, body: bytes("new"), expirationSeconds: 600 });
        assert.equal(next.id, 11n, "the new id is above every archived id");
        const [delivered] = await subscriber.waitFor(1);
        assert.equal(delivered?.id, 11n);
      } finally {
        subscriber.close();
      }
      assert.equal(text((await client.fetch({ subject, id: 5n })).body), "old 5");
      assert.equal(text((await client.fetch({ subject, id: 11n })).body), "new");
      // And the archiver carries on with the new stream.
      await eventually(
        async () =>
          (await query(database.url, "SELECT 1 FROM broker_messages WHERE subject = $1 AND id = 11", [subject]))
            .length === 1,
        15_000,
        "for id 11 in the archive",
      );
    } finally {
      admin.disconnect();
      await archiver.stop();
      await gateway.stop();
    }
  });
});
