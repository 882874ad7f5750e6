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
    // What the archive holds just before the FLUSHALL: every acknowledged id above it is only in Redis.
    // (Read before, not after: once Redis is flushed the archiver records the flushed ids as lost and
    // moves its watermark past them, which would hide them from this allowance.)
    const watermarks = new Map(
      (
        await query<{ subject: string; through: string }>(
          postgres.url,
          "SELECT subject, archived_through AS through FROM broker_archive_progress",
        )
      ).map((row) => [row.subject, Number(row.through)]),
    );
    load.mark(t, "FLUSHALL");
    await redis.flushAll();
    // Once FLUSHALL has returned: a publish first sent before then may have been stored and flushed.
    const flushedAt = Date.now();
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
    const lostArchived = lostOutside.filter((ack) => ack.id <= (watermarks.get(ack.subject) ?? 0)).length;
    if (lostArchived > 0) broken.push(`${lostArchived} lost that were archived before the FLUSHALL`);
    if (lostOutside.length > lostArchived) {
      broken.push(`${lostOutside.length - lostArchived} lost that were first sent after the FLUSHALL`);
    }
    verdict(t, "scenario 5 (Redis FLUSHALL after archiving)", findings, broken, {
      lossAllowance: window.length,
      republishAllowance: retriedAcross.length,
    });
  });
});
