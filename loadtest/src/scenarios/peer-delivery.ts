import { LatencyHistogram, wallClockMs } from "../histogram.js";
import { constantRate, waitUntil } from "../load.js";
import type { Peer, PeerPublisher, PeerSubscribers, PeerSubscription } from "../peers/peer.js";
import { sourceCpuMs } from "../proc.js";
import { progress } from "../progress.js";
import { type BenchContext, perOpUs, type ScenarioResult } from "../results.js";
import { Receiver, readStamp, stampedBody, WARM_UP_SEQ } from "../stamp.js";

export interface PeerDeliveryParams {
  readonly scenario: string;
  readonly subscribers: number;
  readonly ratePerSecond: number;
  /** Measured time per system, split over `rounds`. */
  readonly durationMs: number;
  readonly rounds: number;
  readonly warmUpMs: number;
  readonly bodyBytes: number;
}

/** One system's side of a delivery scenario: its subscribers stay open through every round. */
interface Side {
  readonly peer: Peer;
  readonly subject: string;
  readonly publisher: PeerPublisher;
  readonly pool: PeerSubscribers;
  readonly receivers: Receiver[];
  readonly streams: PeerSubscription[];
  readonly streamErrors: string[];
  readonly latency: LatencyHistogram;
  readonly published: Uint8Array;
  errors: number;
  firstError: string | undefined;
  late: number;
  elapsedMs: number;
  serverCpuMs: number | undefined;
  clientCpuMs: number;
  publishAck: LatencyHistogram;
}

/**
 * Publishes at a constant rate (the metronome-timed sender) to one subject
 * that `subscribers` clients follow, on each system in turn, round after
 * round (gateway / JetStream / gateway / ...), and measures delivery latency
 * (receive time minus the due time written in the body) over every delivery.
 * Every subscription of every system is opened before the first round. A
 * message acknowledged to the publisher that some subscriber never receives
 * counts as lost.
 */
export async function peerDelivery(
  ctx: BenchContext,
  peers: readonly Peer[],
  params: PeerDeliveryParams,
): Promise<ScenarioResult[]> {
  const perRound = Math.max(1, Math.floor((params.ratePerSecond * params.durationMs) / params.rounds / 1000));
  const expected = perRound * params.rounds;
  const sides: Side[] = [];
  try {
    for (const peer of peers) sides.push(await openSide(ctx, peer, params, expected));
    for (const side of sides) await warmUp(side, params);
    for (let round = 0; round < params.rounds; round++) {
      for (const side of sides) await measureRound(side, params, round * perRound, perRound);
    }
    return sides.map((side) => resultOf(side, params, expected));
  } finally {
    for (const side of sides) {
      for (const stream of side.streams) stream.cancel();
      await side.pool.close();
      await side.publisher.close();
    }
  }
}

async function openSide(ctx: BenchContext, peer: Peer, params: PeerDeliveryParams, expected: number): Promise<Side> {
  const subject = `bench-${params.scenario}-${ctx.runId}`;
  await peer.prepare(subject);
  const side: Side = {
    peer,
    subject,
    publisher: peer.publisher(1),
    // As the gateway's delivery scenarios: 100 subscriptions per connection.
    pool: peer.subscribers(Math.max(1, Math.ceil(params.subscribers / 100))),
    receivers: [],
    streams: [],
    streamErrors: [],
    latency: new LatencyHistogram(),
    published: new Uint8Array(expected),
    errors: 0,
    firstError: undefined,
    late: 0,
    elapsedMs: 0,
    serverCpuMs: 0,
    clientCpuMs: 0,
    publishAck: new LatencyHistogram(),
  };
  for (let i = 0; i < params.subscribers; i += 100) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(100, params.subscribers - i) }, () => {
        const receiver = new Receiver(expected);
        side.receivers.push(receiver);
        return side.pool.subscribe(
          subject,
          (body, id) => {
            const { sentAt, seq } = readStamp(body);
            if (seq >= WARM_UP_SEQ) {
              receiver.warmUps += 1;
              return;
            }
            side.latency.recordMs(wallClockMs() - sentAt);
            if (seq < expected) receiver.take(seq, id);
          },
          (err) => side.streamErrors.push(err.message),
        );
      }),
    );
    side.streams.push(...opened);
    progress.update(`${params.scenario} ${peer.target}: ${side.streams.length}/${params.subscribers} subscribed`);
  }
  return side;
}

/** JIT, connection windows, consumers' first pulls: at the same rate, not measured. */
async function warmUp(side: Side, params: PeerDeliveryParams): Promise<void> {
  const run = await constantRate(
    `${params.scenario} ${side.peer.target} warm-up`,
    { ratePerSecond: params.ratePerSecond, durationMs: params.warmUpMs },
    (i, dueAt) =>
      side.publisher.publish(
        side.subject,
        stampedBody(WARM_UP_SEQ + i, performance.timeOrigin + dueAt, params.bodyBytes),
      ),
  );
  await waitUntil(() => side.receivers.every((r) => r.warmUps >= run.ok), 10_000, 20);
}

async function measureRound(side: Side, params: PeerDeliveryParams, base: number, count: number): Promise<void> {
  const cpuBefore = sourceCpuMs(side.peer);
  const clientBefore = process.cpuUsage();
  const run = await constantRate(
    `${params.scenario} ${side.peer.target}`,
    { ratePerSecond: params.ratePerSecond, durationMs: (count * 1000) / params.ratePerSecond },
    async (i, dueAt) => {
      await side.publisher.publish(
        side.subject,
        stampedBody(base + i, performance.timeOrigin + dueAt, params.bodyBytes),
      );
      side.published[base + i] = 1;
    },
  );
  // Everything acknowledged must reach every subscriber. Late is not lost: wait while
  // deliveries still progress (up to 60 s); lateness shows in the latency figures.
  const target = side.published.reduce((a, b) => a + b, 0);
  const total = () => side.receivers.reduce((sum, r) => sum + r.received, 0);
  for (let last = -1, waited = 0; waited < 60_000 && total() !== last; waited += 2_000) {
    last = total();
    if (await waitUntil(() => side.receivers.every((r) => r.received >= target), 2_000, 20)) break;
  }
  const cpuAfter = sourceCpuMs(side.peer);
  const client = process.cpuUsage(clientBefore);
  side.serverCpuMs =
    side.serverCpuMs === undefined || cpuBefore === undefined || cpuAfter === undefined
      ? undefined
      : side.serverCpuMs + cpuAfter - cpuBefore;
  side.clientCpuMs += (client.user + client.system) / 1000;
  side.errors += run.errors;
  side.firstError ??= run.firstError;
  side.late += run.late;
  side.elapsedMs += run.elapsedMs;
  side.publishAck.add(run.latency);
}

function resultOf(side: Side, params: PeerDeliveryParams, expected: number): ScenarioResult {
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  for (const receiver of side.receivers) {
    for (let seq = 0; seq < expected; seq++) if (side.published[seq] && !receiver.seen[seq]) lost += 1;
    duplicates += receiver.duplicates;
    outOfOrder += receiver.outOfOrder;
  }
  const deliveries = side.receivers.reduce((sum, r) => sum + r.received, 0);
  const published = side.published.reduce((a, b) => a + b, 0);
  const problems = [
    side.firstError,
    side.streamErrors[0] && `${side.streamErrors.length} streams failed: ${side.streamErrors[0]}`,
    lost && `${lost} deliveries missing`,
    duplicates && `${duplicates} duplicates`,
    outOfOrder && `${outOfOrder} out of order`,
    side.late && `the sender fell behind schedule ${side.late} times`,
  ].filter(Boolean);
  const bad = side.errors > 0 || lost > 0 || duplicates > 0 || outOfOrder > 0 || side.streamErrors.length > 0;
  return {
    scenario: params.scenario,
    target: side.peer.target,
    status: bad || published === 0 ? "failed" : "ok",
    ...(problems.length ? { note: problems.join("; ") } : {}),
    throughput: side.elapsedMs > 0 ? (deliveries * 1000) / side.elapsedMs : 0,
    unit: "deliveries/s",
    latency: side.latency.summary(),
    serverCpuUsPerOp: perOpUs(side.serverCpuMs, deliveries),
    errors: side.errors,
    lost,
    extra: {
      bodyBytes: params.bodyBytes,
      subscribers: params.subscribers,
      ratePerSecond: params.ratePerSecond,
      rounds: params.rounds,
      published,
      publishAckP99Ms: side.publishAck.summary().p99,
      // Near 1.0: the load client, not the server, limited the run.
      clientCpuShare: side.elapsedMs > 0 ? side.clientCpuMs / side.elapsedMs : 0,
    },
  };
}
