import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MessageResponse } from "../gateway/gen/broker/broker_pb.js";
import { type ArchivedGateway, eventually, startArchivedGateway } from "./support/archive.js";
import { type BrokerClient, brokerClient } from "./support/clients.js";
import { bytes, text } from "./support/streams.js";

describe("resuming from ids that only the archive still holds", () => {
  let harness: ArchivedGateway;
  let client: BrokerClient;

  before(async () => {
    harness = await startArchivedGateway(
      { subscriberBufferMessages: 8 },
      { ARCHIVE_HOT_COUNT: "5", ARCHIVE_HOT_AGE_MS: "0" },
    );
    client = brokerClient(harness.gateway.gateway, "grpc");
  });

  after(() => harness.stop());

  it("replays from the archive, then Redis, then live, in order and without duplicates", async () => {
    const subject = "resume-cold";
    // ids 1..30 fetchable, 31 fire-and-forget (never archived), 32..40 fetchable
    for (let i = 1; i <= 40; i++) {
      await client.publish({ subject, body: bytes(`m${i}`), expirationSeconds: i === 31 ? 0 : 600 });
    }
    await eventually(
      async () => (await harness.redis.xlen(harness.keys.stream(subject))) <= 5,
      15_000,
      "for archiving and trimming",
    );
    const first = Number(
      (await harness.redis.xrange(harness.keys.stream(subject), "-", "+", "COUNT", 1))[0]?.[0]?.split("-")[1],
    );
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
