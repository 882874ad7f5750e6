import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Ports } from "../../support/clients.js";
import { type Ack, keyOf, type Publisher } from "./publisher.js";
import { EXPLICIT_LOSS, type ResumingSubscriber } from "./subscriber.js";

/** What one scenario measured. Every count is of acknowledged messages unless it says otherwise. */
export interface Counts {
  acked: number;
  /** Acknowledged, but Fetch (Redis or the archive) does not return it, or returns another body under its id. */
  notFetchable: number;
  /** Acknowledged, and a subscriber got neither it, nor a Gap marker, nor an explicit loss error covering it. */
  silentlySkipped: number;
  /** Acknowledged, not delivered, but covered by a Gap marker or by an explicit loss (DATA_LOSS, ...). */
  explicitlyMissed: number;
  /** The same id delivered twice to one subscriber. */
  duplicates: number;
  /**
   * One message (key) delivered under two ids: published again by a retry after
   * Redis lost the first copy together with its idempotency key.
   */
  republished: number;
  /** A delivery with an id below one the subscriber already had. */
  outOfOrder: number;
  /** (subject, id) pairs seen with two different keys (acks, deliveries, fetches). */
  idReuse: number;
  gapMarkers: number;
  /** Ids the Gap markers covered. */
  gapIds: number;
  /** Streams that ended with DATA_LOSS / OUT_OF_RANGE / RESOURCE_EXHAUSTED. */
  explicitLossErrors: number;
  /** Seconds during which publishing failed (from the first failed attempt to the next success), summed. */
  unavailableSeconds: number;
  longestOutageSeconds: number;
  longestCallSeconds: number;
  /** Longest call made without a client deadline (the hang probe): how long the gateway itself took to answer. */
  longestUnboundedCallSeconds: number;
  /** Longest the test process's own event loop stalled (a starved client makes calls look slow). */
  clientStallSeconds: number;
  gaveUp: number;
  rejected: number;
  /** 1 when the slow subscriber got every acknowledged id of its subject (or a Gap marker for it) at the end. */
  slowCaughtUp: number;
  slowGapMarkers: number;
  /** Highest resident memory of one gateway process during the scenario. */
  peakRssMiB: number;
}

/** Samples of what went wrong, for the failure message. */
export interface Findings {
  readonly counts: Counts;
  /** Each outage: seconds after the publisher started, and how long it lasted. */
  readonly outages: { from: number; seconds: number }[];
  /** Failed attempts by code. */
  readonly failureCodes: Record<string, number>;
  readonly samples: string[];
  /** Acks that could not be fetched. */
  readonly lost: Ack[];
}

/**
 * Counts what the publisher was promised against what the subscribers got and
 * what Fetch returns now. `fetch` asks every acknowledged id (with a bounded
 * number in flight), so it reads from Redis or, for ids Redis no longer
 * holds, from the archive.
 */
export async function check(
  ports: Ports,
  publisher: Publisher,
  subscribers: ResumingSubscriber[],
  clientStallSeconds: number,
): Promise<Findings> {
  const samples: string[] = [];
  const sample = (text: string) => {
    if (samples.length < 12) samples.push(text);
  };
  const owner = new Map<string, string>();
  const reused = new Set<string>();
  const claim = (subject: string, id: number, key: string, where: string) => {
    const slot = `${subject}/${id}`;
    const prior = owner.get(slot);
    if (prior === undefined) owner.set(slot, key);
    else if (prior !== key && !reused.has(slot)) {
      reused.add(slot);
      sample(`id reuse: ${slot} is ${prior} and ${key} (${where})`);
    }
  };
  for (const ack of publisher.acks) claim(ack.subject, ack.id, ack.key, "ack");

  const lost = await fetchAll(brokerClient(ports, "grpc"), publisher.acks, claim, sample);

  let silentlySkipped = 0;
  let explicitlyMissed = 0;
  let duplicates = 0;
  let republished = 0;
  let outOfOrder = 0;
  let gapMarkers = 0;
  let gapIds = 0;
  let explicitLossErrors = 0;
  for (const subscriber of subscribers) {
    const seen = new Map<number, string>();
    const idsOfKey = new Map<string, number>();
    let previous = 0;
    for (const { id, key } of subscriber.deliveries) {
      claim(subscriber.subject, id, key, "delivery");
      if (seen.has(id)) {
        duplicates += 1;
        sample(`duplicate: ${subscriber.subject}/${id} delivered twice`);
      } else if (id < previous) {
        outOfOrder += 1;
        sample(`out of order: ${subscriber.subject}/${id} after ${previous}`);
      }
      const other = idsOfKey.get(key);
      if (other !== undefined && other !== id) {
        republished += 1;
        sample(`republished: key ${key} delivered as ${other} and ${id}`);
      }
      idsOfKey.set(key, id);
      seen.set(id, key);
      previous = Math.max(previous, id);
    }
    gapMarkers += subscriber.gaps.length;
    for (const gap of subscriber.gaps) gapIds += gap.last - gap.first + 1;
    explicitLossErrors += subscriber.ends.filter((end) => EXPLICIT_LOSS.has(end.code)).length;
    const inGap = (id: number) => subscriber.gaps.some((gap) => gap.first <= id && id <= gap.last);
    const inDiscontinuity = (id: number) =>
      subscriber.discontinuities.some((d) => d.after < id && (d.resumedAt === undefined || id < d.resumedAt));
    for (const ack of publisher.acks) {
      if (ack.subject !== subscriber.subject || seen.get(ack.id) === ack.key) continue;
      if (inGap(ack.id) || inDiscontinuity(ack.id)) explicitlyMissed += 1;
      else {
        silentlySkipped += 1;
        sample(
          `never delivered: ${ack.subject}/${ack.id} (${ack.key}) to a ${subscriber.isSlow ? "slow" : "fast"} subscriber`,
        );
      }
    }
  }
  const outages = outageWindows(publisher);
  const failureCodes: Record<string, number> = {};
  for (const failure of publisher.failures) failureCodes[failure.code] = (failureCodes[failure.code] ?? 0) + 1;
  return {
    counts: {
      acked: publisher.acks.length,
      notFetchable: lost.length,
      silentlySkipped,
      explicitlyMissed,
      duplicates,
      republished,
      outOfOrder,
      idReuse: reused.size,
      gapMarkers,
      gapIds,
      explicitLossErrors,
      unavailableSeconds: round(outages.reduce((sum, w) => sum + w.seconds, 0)),
      longestOutageSeconds: round(Math.max(0, ...outages.map((w) => w.seconds))),
      longestCallSeconds: round(publisher.longestCallMs / 1000),
      longestUnboundedCallSeconds: 0,
      clientStallSeconds: round(clientStallSeconds),
      gaveUp: publisher.gaveUp,
      rejected: publisher.rejected.length,
      slowCaughtUp: 0,
      slowGapMarkers: subscribers.filter((s) => s.isSlow).reduce((sum, s) => sum + s.gaps.length, 0),
      peakRssMiB: 0,
    },
    outages: outages.map((w) => ({ from: round((w.from - publisher.startedAt) / 1000), seconds: round(w.seconds) })),
    failureCodes,
    samples: [...samples, ...publisher.rejected.slice(0, 3)],
    lost,
  };
}

async function fetchAll(
  client: BrokerClient,
  acks: readonly Ack[],
  claim: (subject: string, id: number, key: string, where: string) => void,
  sample: (text: string) => void,
): Promise<Ack[]> {
  const lost: Ack[] = [];
  let next = 0;
  const worker = async () => {
    while (next < acks.length) {
      const ack = acks[next++] as Ack;
      for (let attempt = 0; ; attempt++) {
        try {
          const message = await client.fetch({ subject: ack.subject, id: BigInt(ack.id) }, { timeoutMs: 5_000 });
          const key = keyOf(message.body);
          claim(ack.subject, ack.id, key, "fetch");
          // Another message under the acknowledged id: the acknowledged one is gone.
          if (key !== ack.key) lost.push(ack);
          break;
        } catch (err) {
          const code = err instanceof ConnectError ? err.code : Code.Unknown;
          if (code === Code.Unavailable && attempt < 5) {
            await new Promise((resolve) => setTimeout(resolve, 200));
            continue;
          }
          lost.push(ack);
          sample(`not fetchable: ${ack.subject}/${ack.id} (${ack.key}): ${String(err)}`);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  return lost;
}

/** Each stretch from a failed attempt's start to the end of the next successful one, in seconds. */
function outageWindows(publisher: Publisher): { from: number; seconds: number }[] {
  const attempts = [...publisher.attempts].sort((a, b) => a.start - b.start);
  const successes = attempts
    .filter((a) => a.ok)
    .map((a) => a.end)
    .sort((a, b) => a - b);
  const windows: { from: number; seconds: number }[] = [];
  let windowEnd = 0;
  for (const attempt of attempts) {
    if (attempt.ok || attempt.start < windowEnd) continue;
    const recovered = firstAfter(successes, attempt.end) ?? attempt.end;
    windows.push({ from: attempt.start, seconds: (recovered - attempt.start) / 1000 });
    windowEnd = recovered;
  }
  return windows;
}

/** The first value above `t` in an ascending array (binary search). */
function firstAfter(sorted: readonly number[], t: number): number | undefined {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) > t) hi = mid;
    else lo = mid + 1;
  }
  return sorted[lo];
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

/** "PASS"/"FAIL" and the counts on one line. */
export function verdictLine(
  name: string,
  broken: string[],
  counts: Counts,
  extra: Record<string, unknown> = {},
): string {
  const fields = Object.entries({ ...counts, ...extra })
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return `VERDICT ${name}: ${broken.length === 0 ? "PASS" : `FAIL (${broken.join("; ")})`} ${fields}`;
}
