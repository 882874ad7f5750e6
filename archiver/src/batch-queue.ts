/** What copying one batch did: entries read, and the batches to queue after it (its subjects' next ones). */
export interface BatchOutcome<Batch> {
  readonly read: number;
  readonly next: readonly Batch[];
}

interface Queued<Batch, Read> {
  readonly batch: Batch;
  read?: Promise<Read>;
}

/**
 * Runs batches on up to `workers` workers at once, each batch's Redis read
 * started ahead while earlier batches are copied. A batch's outcome can queue
 * more batches (the next part of a subject's backlog, planned from the
 * watermark it just committed), so a pass drains a backlog without stopping
 * between rounds: the workers never wait for each other, only for the queue.
 * A worker that finds the queue empty stops: every subject left is then in
 * another worker's hands (each worker queues its batch's next part first).
 * The caller makes sure batches in the queue at the same time share no
 * subject. After a failure no new batch starts, and the run rejects only once
 * the batches in flight have settled, so no transaction outlives the pass.
 * Returns the entries read.
 */
export async function runBatches<Batch, Read>(
  initial: readonly Batch[],
  workers: number,
  readAhead: (batch: Batch) => Promise<Read>,
  copy: (batch: Batch, read: Read) => Promise<BatchOutcome<Batch>>,
): Promise<number> {
  const queue: Queued<Batch, Read>[] = initial.map((batch) => ({ batch }));
  let head = 0;
  // The read of each batch due within the next `workers` takes is in flight.
  const startReads = () => {
    for (let i = head; i < Math.min(queue.length, head + workers); i++) {
      const item = queue[i] as Queued<Batch, Read>;
      if (item.read) continue;
      item.read = readAhead(item.batch);
      // Not awaited if the run stops first; awaited, it still rejects.
      item.read.catch(() => {});
    }
  };
  let failed = false;
  let read = 0;
  const worker = async () => {
    while (!failed && head < queue.length) {
      const item = queue[head++] as Queued<Batch, Read>;
      const prefetched = item.read ?? readAhead(item.batch);
      startReads();
      try {
        const outcome = await copy(item.batch, await prefetched);
        read += outcome.read;
        for (const batch of outcome.next) queue.push({ batch });
        startReads();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  startReads();
  const count = Math.max(1, Math.min(workers, queue.length));
  const outcomes = await Promise.allSettled(Array.from({ length: count }, worker));
  const failure = outcomes.find((outcome) => outcome.status === "rejected");
  if (failure) throw failure.reason;
  return read;
}
