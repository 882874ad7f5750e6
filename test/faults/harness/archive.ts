import pg from "pg";
import { ArchiverProcess, eventually, PrivatePostgres, query } from "../../support/archive.js";
import type { Ack } from "./publisher.js";

/** What the archive holds of the acknowledged messages. */
export interface ArchiveCounts {
  /** Acknowledged (all have a TTL) but not in broker_messages. */
  archiveMissing: number;
  /** In the archive with another body than the acknowledged key's. */
  archiveWrongBody: number;
  /** Ids absent from the archive between a subject's first and last archived id. */
  archiveHoles: number;
  archiveRows: number;
  /** Rows the archivers met already there (their stats' `conflicts`); exactly once means 0. */
  archiveConflicts: number;
}

/** An archiver process that can be killed and started again, against one Redis and one PostgreSQL. */
export class FaultArchiver {
  private process: ArchiverProcess | undefined;
  /** `conflicts` reported by the archiver processes that exited cleanly or logged stats. */
  conflicts = 0;

  constructor(private readonly env: Record<string, string>) {}

  start(): void {
    this.process = new ArchiverProcess({ ARCHIVE_STATS_INTERVAL_MS: "500", ...this.env });
  }

  /** kill -9 at once. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.collect(child);
    this.process = undefined;
    child.kill("SIGKILL");
    await child.exited;
  }

  /**
   * Waits until a COPY of this archive is running (pg_stat_activity), then
   * kill -9. Returns true when it caught one (false: none seen within the time, killed anyway).
   */
  async killMidCopy(databaseUrl: string, timeoutMs = 10_000): Promise<boolean> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query ILIKE 'COPY%'",
        );
        if ((rows[0]?.n ?? 0) > 0) {
          await this.kill();
          return true;
        }
      }
      await this.kill();
      return false;
    } finally {
      await client.end();
    }
  }

  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    await child.stop();
    this.collect(child);
  }

  private collect(child: ArchiverProcess): void {
    this.conflicts += Number(child.stats?.conflicts ?? 0);
  }
}

/**
 * Makes every row a COPY inserts cost `msPerRow` (a BEFORE INSERT trigger
 * that sleeps), so a batch's COPY lasts long enough to be caught and killed
 * while it runs; 0 removes the trigger. A test-only change to its own
 * cluster's schema.
 */
export async function slowCopies(databaseUrl: string, msPerRow: number): Promise<void> {
  if (msPerRow > 0) {
    await query(
      databaseUrl,
      `CREATE OR REPLACE FUNCTION faults_slow_row() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN PERFORM pg_sleep(${msPerRow / 1000}); RETURN NEW; END $$`,
    );
    await query(
      databaseUrl,
      "CREATE OR REPLACE TRIGGER faults_slow_row BEFORE INSERT ON broker_messages FOR EACH ROW EXECUTE FUNCTION faults_slow_row()",
    );
  } else {
    await query(databaseUrl, "DROP TRIGGER IF EXISTS faults_slow_row ON broker_messages");
  }
}

/** Waits until an archiver has created the archive's tables. */
export async function waitForArchiveTables(databaseUrl: string): Promise<void> {
  await eventually(
    async () =>
      (await query<{ t: string | null }>(databaseUrl, "SELECT to_regclass('broker_archive_progress')::text AS t"))[0]
        ?.t !== null,
    30_000,
    "for the archiver's migrations",
  );
}

/** Waits until every subject is archived through its highest acknowledged id. */
export async function waitArchivedThroughAcks(databaseUrl: string, acks: readonly Ack[], timeoutMs = 30_000) {
  const last = new Map<string, number>();
  for (const ack of acks) last.set(ack.subject, Math.max(last.get(ack.subject) ?? 0, ack.id));
  await eventually(
    async () => {
      const rows = await query<{ subject: string; through: string }>(
        databaseUrl,
        "SELECT subject, archived_through AS through FROM broker_archive_progress",
      );
      const through = new Map(rows.map((row) => [row.subject, Number(row.through)]));
      return [...last].every(([subject, id]) => (through.get(subject) ?? 0) >= id);
    },
    timeoutMs,
    "for the archive to hold every acknowledged id",
  );
}

/** Compares the archive table with the acknowledged messages. */
export async function countArchive(
  databaseUrl: string,
  acks: readonly Ack[],
  conflicts: number,
): Promise<{ counts: ArchiveCounts; samples: string[] }> {
  const subjects = [...new Set(acks.map((ack) => ack.subject))];
  const rows = await query<{ subject: string; id: string; key: string }>(
    databaseUrl,
    "SELECT subject, id, rtrim(convert_from(body, 'UTF8')) AS key FROM broker_messages WHERE subject = ANY($1)",
    [subjects],
  );
  const stored = new Map(rows.map((row) => [`${row.subject}/${row.id}`, row.key]));
  const samples: string[] = [];
  let archiveMissing = 0;
  let archiveWrongBody = 0;
  for (const ack of acks) {
    const key = stored.get(`${ack.subject}/${ack.id}`);
    if (key === undefined) {
      archiveMissing += 1;
      if (samples.length < 5) samples.push(`not archived: ${ack.subject}/${ack.id}`);
    } else if (key !== ack.key) {
      archiveWrongBody += 1;
      if (samples.length < 5) samples.push(`archived with another body: ${ack.subject}/${ack.id} is ${key}`);
    }
  }
  let archiveHoles = 0;
  for (const subject of subjects) {
    const ids = rows.filter((row) => row.subject === subject).map((row) => Number(row.id));
    if (ids.length === 0) continue;
    const first = Math.min(...ids);
    const last = Math.max(...ids);
    archiveHoles += last - first + 1 - ids.length;
  }
  return {
    counts: { archiveMissing, archiveWrongBody, archiveHoles, archiveRows: rows.length, archiveConflicts: conflicts },
    samples,
  };
}

export { PrivatePostgres };
