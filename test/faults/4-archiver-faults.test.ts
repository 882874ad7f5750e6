import { after, describe, it } from "node:test";
import { countArchive, slowCopies, waitArchivedThroughAcks } from "./harness/archive.js";
import { Load, sleep } from "./harness/load.js";
import { type FaultStack, startFaultStack } from "./harness/stack.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 4: the archiver killed mid-COPY and PostgreSQL restarted under load", () => {
  let stack: FaultStack | undefined;
  after(async () => {
    await stack?.stop();
  });

  it("archives every acknowledged message exactly once, with no holes, and Fetch finds it", async (t) => {
    // The archiver waits at most 500 ms between retries while PostgreSQL is down, so it is back soon after the restart below.
    const started = await startFaultStack({ appendfsync: "always", archive: { ARCHIVE_MAX_BACKOFF_MS: "500" } });
    stack = started;
    const { postgres, archiver } = started;
    const load = new Load(started.gateway);
    await load.start();
    let caughtMidCopy = 0;
    try {
      await sleep(3_000);
      for (let round = 1; round <= 1; round++) {
        load.mark(t, `archiver kill -9 (round ${round}), a backlog builds for 2 s`);
        await archiver.kill();
        await sleep(2_000);
        // Each row costs 2 ms while the trigger is there: the backlog's COPY runs for about a second.
        await slowCopies(postgres.url, 2);
        archiver.start();
        // A starved machine may take most of a minute to start the archiver (tsx) and reach its first COPY.
        const caught = await archiver.killMidCopy(postgres.url, 90_000);
        if (caught) caughtMidCopy += 1;
        load.mark(t, `archiver restarted and killed -9 ${caught ? "mid-COPY" : "(no COPY seen in 90 s)"}`);
        await slowCopies(postgres.url, 0);
        archiver.start();
        await sleep(2_000);
      }
      load.mark(t, "PostgreSQL fast shutdown while the archiver runs");
      await postgres.pause();
      await sleep(3_000);
      await postgres.resume();
      load.mark(t, "PostgreSQL started again");
      await sleep(4_000);
    } catch (err) {
      await load.abandon();
      throw err;
    }
    const findings = await load.finish();
    await waitArchivedThroughAcks(postgres.url, load.publisher.acks);
    await archiver.stop();
    const archive = await countArchive(postgres.url, load.publisher.acks, archiver.conflicts);
    const broken = brokenPromises(findings.counts);
    if (archive.counts.archiveMissing > 0) broken.push(`${archive.counts.archiveMissing} acknowledged not archived`);
    if (archive.counts.archiveWrongBody > 0)
      broken.push(`${archive.counts.archiveWrongBody} archived with another body`);
    if (archive.counts.archiveHoles > 0) broken.push(`${archive.counts.archiveHoles} holes in the archive`);
    if (archive.counts.archiveConflicts > 0) broken.push(`${archive.counts.archiveConflicts} rows copied twice`);
    if (caughtMidCopy === 0) broken.push("no kill landed mid-COPY: the scenario was not exercised");
    findings.samples.push(...archive.samples);
    verdict(t, "scenario 4 (archiver kill -9, then mid-COPY, PostgreSQL restart)", findings, broken, {
      ...archive.counts,
      killsMidCopy: caughtMidCopy,
    });
  });
});
