import { after, describe, it } from "node:test";
import { query } from "../support/archive.js";
import { Load, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 5: Redis FLUSHALL after archiving, publishing going on", () => {
  let stack: FaultStack | undefined;
  after(async () => {
    await stack?.stop();
  });

  it("reuses no id, fetches the old ids from PostgreSQL, and marks the unarchived tail as lost", async (t) => {
    const started = await startFaultStack({ appendfsync: "always", archive: true });
    stack = started;
    const { redis, postgres } = started;
    const load = new Load(started.gateway);
    await load.start();
    await sleep(5_000);
    load.mark(t, "FLUSHALL");
    const flushedAt = Date.now();
    await redis.flushAll();
    // What the archive held at that moment: every acknowledged id above it was only in Redis.
    const watermarks = new Map(
      (
        await query<{ subject: string; through: string }>(
          postgres.url,
          "SELECT subject, archived_through AS through FROM broker_archive_progress",
        )
      ).map((row) => [row.subject, Number(row.through)]),
    );
    await sleep(5_000);
    const findings = await load.finish();
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
