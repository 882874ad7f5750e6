/** A subject and how many of its entries one batch takes. */
export interface Planned {
  readonly subject: string;
  readonly count: number;
}

/**
 * Splits a pass's backlog into transactions of up to `batchSize` entries. A
 * subject's backlog larger than that is taken up to batchSize now and the
 * rest in later passes, so a subject appears in at most one batch of a pass:
 * the batches of one pass touch disjoint subjects and can run at once.
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
