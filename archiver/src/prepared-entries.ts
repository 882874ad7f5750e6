import { FIRE_AND_FORGET, type StoredMessage } from "../../gateway/src/storage/stream-entry.js";
import { encodeCopyTuples } from "./copy-encoding.js";
import { decodeStreamEntry } from "./entry-decoding.js";
import type { XRangeReply } from "./stream-reads.js";

/**
 * One subject's entries after a watermark, decoded and ready to write: the
 * COPY tuples of those to archive, and what committing them means for the
 * watermark. Prepared as soon as Redis answers, outside the transaction, so
 * the transaction only sends bytes; and since the tuples hold copies of the
 * bodies, Redis's reply (a few objects per entry) is garbage at once instead
 * of living until the batch commits.
 */
export interface PreparedEntries {
  readonly subject: string;
  /** The watermark the entries follow. */
  readonly after: number;
  /** Entries read: archived or skipped. */
  readonly read: number;
  /** Entries not archived on purpose: fire-and-forget, or expired when prepared. */
  readonly skipped: number;
  /** The entries to archive, as COPY tuples, and how many. */
  readonly tuples: Buffer;
  readonly rows: number;
  /** The entries to archive as messages: only when asked for (the ON CONFLICT path inserts them). */
  readonly messages: readonly StoredMessage[] | undefined;
  /** The first and last id read (undefined: none), and the last one's publish time. */
  readonly firstId: number | undefined;
  readonly lastId: number | undefined;
  readonly lastPublishedAt: number;
}

/**
 * Decodes `reply` (the entries of `subject` after `after`) and encodes those
 * to archive. An entry that expires between `now` and the commit is archived
 * anyway; the retention sweep deletes it like any other expired row.
 */
export function prepareEntries(
  subject: string,
  after: number,
  reply: XRangeReply,
  now: number,
  keepMessages = false,
): PreparedEntries {
  const archivable: StoredMessage[] = [];
  let skipped = 0;
  let first: StoredMessage | undefined;
  let last: StoredMessage | undefined;
  for (const [id, fields] of reply) {
    const message = decodeStreamEntry(subject, id, fields);
    if (message.expiresAt === FIRE_AND_FORGET || message.expiresAt <= now) skipped += 1;
    else archivable.push(message);
    first ??= message;
    last = message;
  }
  return {
    subject,
    after,
    read: reply.length,
    skipped,
    tuples: encodeCopyTuples(archivable),
    rows: archivable.length,
    messages: keepMessages ? archivable : undefined,
    firstId: first?.id,
    lastId: last?.id,
    lastPublishedAt: last?.publishedAt ?? 0,
  };
}
