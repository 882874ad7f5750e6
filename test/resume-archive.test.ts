import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { Archiver } from "../archiver/src/archiver.js";
import { loadArchiverConfig } from "../archiver/src/config.js";
import type { MessageResponse } from "../gateway/gen/broker/broker_pb.js";
import { subjectRegistryKey } from "../gateway/src/engines/redis/subject-registry.js";
import { createDatabase, eventually } from "./support/archive.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { REDIS_URL } from "./support/services.js";
import { bytes, text } from "./support/streams.js";

describe("resuming from ids that only the archive still holds", () => {
  let database: Awaited<ReturnType<typeof createDatabase>>;
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  let archiver: Archiver;
  let client: BrokerClient;
  let redis: Redis;
  let prefix: string;

  before(async () => {
    database = await createDatabase();
    gateway = await startGateway("redis", { databaseUrl: database.url, subscriberBufferMessages: 8 });
    prefix = gateway.config.redisKeyPrefix;
    archiver = new Archiver(
      loadArchiverConfig({
        REDIS_URL,
        DATABASE_URL: database.url,
        REDIS_KEY_PREFIX: prefix,
        ARCHIVE_HOT_COUNT: "5",
        ARCHIVE_HOT_AGE_MS: "0",
        ARCHIVE_IDLE_MS: "20",
      }),
    );
    archiver.start();
    client = brokerClient(gateway.gateway, "grpc");
    redis = new Redis(REDIS_URL, { protocol: 2 });
  });

  after(async () => {
    await archiver.stop();
    await gateway.stop();
    await redis.del(subjectRegistryKey(prefix));
    redis.disconnect();
    await database.drop();
  });

  it("replays from the archive, then Redis, then live, in order and without duplicates", async () => {
    const subject = "resume-cold";
    // ids 1..30 fetchable, 31 fire-and-forget (never archived), 32..40 fetchable
    for (let i = 1; i <= 40; i++) {
      await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: i === 31 ? 0 : 600 });
    }
    await eventually(async () => (await redis.xlen(prefix + subject)) <= 5, 15_000, "for archiving and trimming");
    const first = Number((await redis.xrange(prefix + subject, "-", "+", "COUNT", 1))[0]?.[0]?.split("-")[1]);
    assert.ok(first > 31, `Redis no longer holds id 10..31 (first is ${first})`);

    const received: MessageResponse[] = [];
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 15_000);
    let publishedLive = false;
    try {
      for await (const message of client.subscribe({ subject, resumeAfterId: 9n }, { signal: abort.signal })) {
        received.push(message);
        if (!publishedLive && received.length === 10) {
          publishedLive = true;
          void client.publish({ subject, body: bytes("m41"), expirationSeconds: 600 });
        }
        if (message.id === 41n) break;
      }
    } finally {
      clearTimeout(timer);
    }
    const items = received.map((m) => (m.gap ? `gap ${m.gap.firstId}-${m.gap.lastId}` : text(m.body)));
    const expected = [
      ...Array.from({ length: 21 }, (_, i) => `m${i + 10}`),
      "gap 31-31",
      ...Array.from({ length: 10 }, (_, i) => `m${i + 32}`),
    ];
    assert.deepEqual(items, expected);
  });
});
