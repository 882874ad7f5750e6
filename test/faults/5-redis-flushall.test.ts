import { after, describe, it } from "node:test";
import { query } from "../support/archive.js";
import { FaultArchiver, PrivatePostgres, waitForArchiveTables } from "./harness/archive.js";
import { FaultRedis } from "./harness/fault-redis.js";
import { FaultGateway } from "./harness/gateway.js";
import { Load, sleep } from "./harness/load.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 5: Redis FLUSHALL after archiving, publishing going on", () => {
  let redis: FaultRedis | undefined;
  let postgres: PrivatePostgres | undefined;
  let archiver: FaultArchiver | undefined;
  let gateway: FaultGateway | undefined;
  after(async () => {
    await archiver?.stop();
    await gateway?.stop();
    await postgres?.destroy();
    await redis?.destroy();
  });

  it("reuses no id, fetches the old ids from PostgreSQL, and marks the unarchived tail as lost", async (t) => {
    redis = await FaultRedis.start("always");
    const pgCluster = await PrivatePostgres.start();
    postgres = pgCluster;
    const arch = new FaultArchiver({
      REDIS_URL: redis.url,
      DATABASE_URL: pgCluster.url,
      ARCHIVE_HOT_COUNT: "100",
      ARCHIVE_HOT_AGE_MS: "0",
    });
    archiver = arch;
    arch.start();
    await waitForArchiveTables(pgCluster.url);
    const gw = await FaultGateway.start({ REDIS_URL: redis.url, DATABASE_URL: pgCluster.url }, 1);
    gateway = gw;
    const load = new Load(gw, () => gw.sampleMemory());
    await load.start();
    await sleep(5_000);
    load.mark(t, "FLUSHALL");
    const flushedAt = Date.now();
    await redis.flushAll();
    // What the archive held at that moment: every acknowledged id above it was only in Redis.
    const watermarks = new Map(
      (
        await query<{ subject: string; through: string }>(
          pgCluster.url,
          "SELECT subject, archived_through AS through FROM broker_archive_progress",
        )
      ).map((row) => [row.subject, Number(row.through)]),
    );
    await sleep(5_000);
    const findings = await load.finish(() => gw.peakRssBytes);
    // Only what the archiver had not copied yet may be lost: acknowledged ids above the watermark at the FLUSHALL.
    const window = load.publisher.acks.filter(
      (ack) => ack.firstAttemptAt <= flushedAt && ack.id > (watermarks.get(ack.subject) ?? 0),
    );
    const lostOutside = findings.lost.filter((ack) => !window.includes(ack));
    // FLUSHALL also forgets the idempotency keys: a publish whose first attempt started before it and that
    // was acknowledged only after it may have been stored before it and again by a retry after it.
    const retriedAcross = load.publisher.acks.filter(
      (ack) => ack.firstAttemptAt <= flushedAt && ack.ackedAt >= flushedAt,
    );
    const broken = brokenPromises(findings.counts, { mayLose: window.length, mayRepublish: retriedAcross.length });
    if (lostOutside.length > 0)
      broken.push(`${lostOutside.length} lost that were archived, or acknowledged after the FLUSHALL`);
    verdict(t, "scenario 5 (Redis FLUSHALL after archiving)", findings, broken, {
      lossAllowance: window.length,
      republishAllowance: retriedAcross.length,
    });
  });
});
