import type { BatchItem } from "./engine.js";
import { asStorageError, BrokerError } from "./errors.js";
import type { StoredMessage } from "./message.js";

/** One subject's share of a PublishBatch: its messages and their indices in the request. */
export interface SubjectShare {
  readonly subject: string;
  readonly items: (BatchItem & { readonly index: number })[];
}

/** Subjects' shares written at once: enough to keep Redis busy, few enough that no command waits past its timeout. */
export const SHARES_IN_FLIGHT = 64;

/**
 * Stores each subject's share (one atomic append each) with at most
 * `inFlight` shares pending, and fills `results` by request index. Across
 * subjects a batch cannot be atomic (each subject is its own stream), so when
 * a share fails no new share starts, those in flight finish, and the error
 * says which messages were stored (they have ids and will be delivered),
 * which were not, and which may or may not have been (a timeout or a lost
 * connection), so a client never retries blindly.
 */
export async function storeShares(
  shares: readonly SubjectShare[],
  append: (subject: string, items: readonly BatchItem[]) => Promise<StoredMessage[]>,
  results: StoredMessage[],
  inFlight = SHARES_IN_FLIGHT,
): Promise<void> {
  const stored: number[] = [];
  const unknown: number[] = [];
  let failure: BrokerError | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < shares.length) {
      const share = shares[next++] as SubjectShare;
      try {
        const messages = await append(share.subject, share.items);
        messages.forEach((message, i) => {
          const index = (share.items[i] as { index: number }).index;
          results[index] = message;
          stored.push(index);
        });
      } catch (err) {
        const error = asStorageError(err);
        // A refusal (full, over a limit) stored nothing; a lost reply may have.
        if (error.code !== "resource_exhausted" && error.code !== "invalid_argument") {
          for (const item of share.items) unknown.push(item.index);
        }
        failure ??= withSubject(error, share.subject);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, shares.length) }, worker));
  if (failure) throw partialFailure(failure, stored, unknown, results.length);
}

function withSubject(error: BrokerError, subject: string): BrokerError {
  return new BrokerError(error.code, `subject '${subject}': ${error.message}`, { cause: error });
}

function partialFailure(error: BrokerError, stored: number[], unknown: number[], total: number): BrokerError {
  const notStored = total - stored.length - unknown.length;
  let message = `PublishBatch failed part-way (${error.message}). `;
  message +=
    stored.length === 0
      ? "No message of the batch was stored"
      : `Stored, with ids, ${stored.length} of ${total} messages: ${ranges(stored)}`;
  if (unknown.length > 0) message += `; maybe stored (the reply was lost): ${ranges(unknown)}`;
  message += `; not stored: ${notStored}. Retry only the messages that were not stored.`;
  return new BrokerError(error.code, message, { cause: error });
}

/** Request indices as ranges ("0-99, 200-299"), the first 20 of them. */
function ranges(indices: number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0] as number;
  let end = start;
  for (const index of sorted.slice(1)) {
    if (index === end + 1) {
      end = index;
      continue;
    }
    parts.push(start === end ? `${start}` : `${start}-${end}`);
    start = end = index;
  }
  parts.push(start === end ? `${start}` : `${start}-${end}`);
  const shown = parts.slice(0, 20).join(", ");
  return `message indices ${shown}${parts.length > 20 ? `, and ${parts.length - 20} more ranges` : ""}`;
}
