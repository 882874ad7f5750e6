import { after, describe, it } from "node:test";
import {
  countArchive,
  FaultArchiver,
  PrivatePostgres,
  slowCopies,
  waitArchivedThroughAcks,
  waitForArchiveTables,
} from "./harness/archive.js";
import { FaultRedis } from "./harness/fault-redis.js";
import { FaultGateway } from "./harness/gateway.js";
import { Load, sleep } from "./harness/load.js";
import { brokenPromises, verdict } from "./harness/verdict.js";

describe("scenario 4: the archiver killed mid-COPY and PostgreSQL restarted under load", () => {
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

  it("archives every acknowledged message exactly once, with no holes, and Fetch finds it", async (t) => {
    redis = await FaultRedis.start("always");
    const pgCluster = await PrivatePostgres.start();
    postgres = pgCluster;
    // A small hot window, so the archive (not Redis) answers most Fetches and the slow subscriber's catch-up.
    const arch = new FaultArchiver({
      REDIS_URL: redis.url,
      DATABASE_URL: pgCluster.url,
      ARCHIVE_HOT_COUNT: "100",
      ARCHIVE_HOT_AGE_MS: "0",
      ARCHIVE_MAX_BACKOFF_MS: "500",
    });
    archiver = arch;
    arch.start();
    await waitForArchiveTables(pgCluster.url);
    const gw = await FaultGateway.start({ REDIS_URL: redis.url, DATABASE_URL: pgCluster.url }, 1);
    gateway = gw;
    const load = new Load(gw, () => gw.sampleMemory());
    await load.start();
    let caughtMidCopy = 0;
    try {
      await sleep(3_000);
      for (let round = 1; round <= 1; round++) {
        load.mark(t, `archiver kill -9 (round ${round}), a backlog builds for 2 s`);
        await arch.kill();
        await sleep(2_000);
        // Each row costs 2 ms while the trigger is there: the backlog's COPY runs for about a second.
        await slowCopies(pgCluster.url, 2);
        arch.start();
        // A starved machine may take most of a minute to start the archiver (tsx) and reach its first COPY.
        const caught = await arch.killMidCopy(pgCluster.url, 90_000);
        if (caught) caughtMidCopy += 1;
        load.mark(t, `archiver restarted and killed -9 ${caught ? "mid-COPY" : "(no COPY seen in 90 s)"}`);
        await slowCopies(pgCluster.url, 0);
        arch.start();
        await sleep(2_000);
      }
      load.mark(t, "PostgreSQL fast shutdown while the archiver runs");
      await pgCluster.pause();
      await sleep(3_000);
      await pgCluster.resume();
      load.mark(t, "PostgreSQL started again");
      await sleep(4_000);
    } catch (err) {
      await load.abandon();
      throw err;
    }
    const findings = await load.finish(() => gw.peakRssBytes);
    await waitArchivedThroughAcks(pgCluster.url, load.publisher.acks);
    await arch.stop();
    const archive = await countArchive(pgCluster.url, load.publisher.acks, arch.conflicts);
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
