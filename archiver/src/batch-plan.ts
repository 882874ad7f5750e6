/** A subject and how many of its entries one batch takes. */
export interface Planned {
  readonly subject: string;
  readonly count: number;
}

/**
 * Splits a pass's backlog into transactions of up to `batchSize` entries. Of
 * a subject's backlog larger than the room left in a batch, only that much
 * is planned; the copier queues the rest once that batch has committed. So a
 * subject is in at most one planned batch: they touch disjoint subjects and
 * can run at once.
 */
export function planBatches(backlog: readonly Planned[], batchSize: number): Planned[][] {
  const batches: Planned[][] = [];
  let batch: Planned[] = [];
  let size = 0;
  for (const item of backlog) {
    const count = Math.min(item.count, batchSize - size);
    batch.push({ subject: item.subject, count });
    size += count;
    if (size >= batchSize) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
