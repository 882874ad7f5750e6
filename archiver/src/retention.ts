import type pg from "pg";

/**
 * Deletes expired rows in small batches, each its own short statement.
 *
 * Why batched deletes and not dropped partitions: Fetch finds rows by
 * (subject, id), which cannot prune partitions keyed by expiry, and expiry
 * spans seconds to 68 years, so an expiry-partitioned table would have many
 * partitions that every lookup probes, plus DDL (with its parent-table lock)
 * in the write path to create them. A bounded DELETE locks only the rows it
 * removes (SKIP LOCKED lets two archivers sweep side by side), never blocks
 * readers, and the space it frees is reused once autovacuum (tuned in the
 * migration) has passed, so the table stays at its steady-state size.
 */
export async function deleteExpired(
  pool: pg.Pool,
  now: number,
  batchSize: number,
  maxBatches: number,
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const result = await pool.query(
      `DELETE FROM broker_messages WHERE ctid = ANY(ARRAY(
         SELECT ctid FROM broker_messages WHERE expires_at <= $1
         ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`,
      [now, batchSize],
    );
    const count = result.rowCount ?? 0;
    deleted += count;
    if (count < batchSize) break;
  }
  return deleted;
}
