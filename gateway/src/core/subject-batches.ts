import type { BatchItem } from "./engine.js";
import { asBrokerError, BrokerError } from "./errors.js";
import type { Log } from "./log.js";
import type { StoredMessage } from "./message.js";

/** One subject's share of a PublishBatch: its messages and their indices in the request. */
export interface SubjectShare {
  readonly subject: string;
  readonly items: (BatchItem & { readonly index: number })[];
}

/** Subjects' shares written at once, one call each: enough to keep Redis busy, few enough that no command waits past its timeout. */
export const SHARES_IN_FLIGHT = 64;

/** With `appendShares`: shares per call (and messages, unless one share alone is bigger), and calls in flight. */
export const SHARES_PER_CALL = 128;
export const MESSAGES_PER_CALL = 2_048;
export const CALLS_IN_FLIGHT = 4;

type AppendShares = (shares: readonly SubjectShare[]) => Promise<StoredMessage[][]>;

/**
 * Stores each subject's share atomically: one `append` call per share with at
 * most SHARES_IN_FLIGHT pending, or, when the engine offers `appendShares`,
 * up to SHARES_PER_CALL shares per atomic call with CALLS_IN_FLIGHT pending.
 * Fills `results` by request index. Across calls a batch cannot be atomic
 * (subjects are separate streams), so when a call fails no new call starts,
 * those in flight finish, and the error says which messages were stored (they
 * have ids and will be delivered), which were not, and which may or may not
 * have been (a timeout or a lost connection), so a client never retries
 * blindly.
 */
export async function storeShares(
  shares: readonly SubjectShare[],
  append: (subject: string, items: readonly BatchItem[]) => Promise<StoredMessage[]>,
  results: StoredMessage[],
  log: Log,
  appendShares?: AppendShares,
): Promise<void> {
  const calls = appendShares ? groupShares(shares) : shares.map((share) => [share]);
  const send: AppendShares =
    appendShares ?? (async ([share]) => [await append((share as SubjectShare).subject, (share as SubjectShare).items)]);
  const stored: number[] = [];
  const unknown: number[] = [];
  let failure: BrokerError | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < calls.length) {
      const call = calls[next++] as SubjectShare[];
      try {
        const messages = await send(call);
        call.forEach((share, s) => {
          (messages[s] as StoredMessage[]).forEach((message, i) => {
            const index = (share.items[i] as { index: number }).index;
            results[index] = message;
            stored.push(index);
          });
        });
      } catch (err) {
        const error = asBrokerError(err, log, { operation: "publishBatch" });
        // A refusal (full, over a limit) stored nothing; a lost reply may have.
        if (error.code !== "resource_exhausted" && error.code !== "invalid_argument") {
          for (const share of call) for (const item of share.items) unknown.push(item.index);
        }
        failure ??= withSubjects(error, call);
      }
    }
  };
  const inFlight = appendShares ? CALLS_IN_FLIGHT : SHARES_IN_FLIGHT;
  await Promise.all(Array.from({ length: Math.min(inFlight, calls.length) }, worker));
  if (failure) throw partialFailure(failure, stored, unknown, results.length);
}

/** Shares grouped into calls of at most SHARES_PER_CALL shares and (unless alone) MESSAGES_PER_CALL messages. */
function groupShares(shares: readonly SubjectShare[]): SubjectShare[][] {
  const calls: SubjectShare[][] = [];
  let call: SubjectShare[] = [];
  let messages = 0;
  for (const share of shares) {
    if (call.length > 0 && (call.length >= SHARES_PER_CALL || messages + share.items.length > MESSAGES_PER_CALL)) {
      calls.push(call);
      call = [];
      messages = 0;
    }
    call.push(share);
    messages += share.items.length;
  }
  if (call.length > 0) calls.push(call);
  return calls;
}

function withSubjects(error: BrokerError, call: readonly SubjectShare[]): BrokerError {
  const named =
    call.length === 1 ? `subject '${call[0]?.subject}'` : `one of subjects '${call[0]?.subject}' … (${call.length})`;
  return new BrokerError(error.code, `${named}: ${error.message}`, {
    cause: error,
    reason: error.reason,
    metadata: error.metadata,
  });
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
  return new BrokerError(error.code, message, { cause: error, reason: error.reason, metadata: error.metadata });
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
