/** Running totals, logged by the archiver and read by tests and the benchmark. */
export interface CopyStats {
  /** Rows inserted. */
  copied: number;
  /** Entries not archived on purpose: fire-and-forget or already expired. */
  skipped: number;
  /** Rows offered that were already in PostgreSQL: must stay 0 (nothing is copied twice). */
  conflicts: number;
  /** Ids Redis trimmed before they could be copied (recorded in broker_archive_gaps). */
  lost: number;
  transactions: number;
  /** Publish-to-commit delay of the newest entry of the last batch. */
  lagMs: number;
}

export const emptyStats = (): CopyStats => ({
  copied: 0,
  skipped: 0,
  conflicts: 0,
  lost: 0,
  transactions: 0,
  lagMs: 0,
});
