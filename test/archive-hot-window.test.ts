import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ArchivedGateway, eventually, startArchivedGateway, waitArchivedThrough } from "./support/archive.js";
import { brokerClient } from "./support/clients.js";
import { bytes, sleep, text } from "./support/streams.js";

describe("the hot window the archiver leaves in Redis", () => {
  let harness: ArchivedGateway;

  before(async () => {
    harness = await startArchivedGateway({}, { ARCHIVE_HOT_COUNT: "3", ARCHIVE_HOT_AGE_MS: "2000" });
  });
  after(() => harness.stop());

  it("keeps archived messages while they are young, then trims down to the newest ARCHIVE_HOT_COUNT", async () => {
    const client = brokerClient(harness.gateway.gateway, "grpc");
    const subject = "aging";
    const publishedAt = Date.now();
    for (let i = 1; i <= 20; i++) await client.publish({ subject, body: bytes(`h${i}`), expirationSeconds: 600 });
    await waitArchivedThrough(harness.database.url, subject, 20);
    await sleep(Math.max(0, publishedAt + 300 - Date.now()));
    assert.equal(await harness.redis.xlen(harness.keys.stream(subject)), 20, "young messages stay in Redis");
    await eventually(
      async () => (await harness.redis.xlen(harness.keys.stream(subject))) === 3,
      5_000,
      "for the trim once they aged",
    );
    assert.equal(text((await client.fetch({ subject, id: 1n })).body), "h1", "and are fetched from the archive");
  });
});
