import { LatencyHistogram } from "../histogram.js";
import { closedLoop, waitUntil } from "../load.js";
import type { Peer } from "../peers/peer.js";
import { sourceCpuMs } from "../proc.js";
import { progress } from "../progress.js";
import { type BenchContext, perOpUs, type ScenarioResult } from "../results.js";
import { Receiver, readStamp, stampedBody } from "../stamp.js";
import { sizeLabel } from "./peer-throughput.js";

const PUBLISH_BATCH = 1_000;

export interface PeerReplayParams {
  readonly messages: number;
  readonly bodyBytes: number;
  readonly rounds: number;
}

interface Stored {
  readonly peer: Peer;
  readonly subject: string;
  readonly firstId: number;
}

/**
 * Resume from an id: `messages` are stored on a fresh subject of each system
 * first (batches of 1,000, not measured), then one subscriber asks for
 * everything after the id before the first — a gateway Subscribe with
 * resume_after_id, a JetStream ordered consumer from a start sequence, an
 * XREAD loop from an id — and the time until the last message arrives is
 * measured, each system in turn, `rounds` times. Every message must arrive
 * once, in id order.
 */
export async function peerReplay(
  ctx: BenchContext,
  peers: readonly Peer[],
  params: PeerReplayParams,
): Promise<ScenarioResult[]> {
  const scenario = `peer-replay-${sizeLabel(params.bodyBytes)}`;
  const stored: Stored[] = [];
  for (const peer of peers) stored.push(await store(ctx, peer, scenario, params));
  const outcomes = stored.map(() => ({
    elapsedMs: 0,
    received: 0,
    problems: [] as string[],
    cpuMs: 0 as number | undefined,
    firstMessage: new LatencyHistogram(),
  }));
  for (let round = 0; round < params.rounds; round++) {
    for (const [i, side] of stored.entries()) {
      const outcome = outcomes[i] as (typeof outcomes)[number];
      const receiver = new Receiver(params.messages);
      const pool = side.peer.subscribers(1);
      let streamError: string | undefined;
      let firstAt: number | undefined;
      const cpuBefore = sourceCpuMs(side.peer);
      const t0 = performance.now();
      try {
        const subscription = await pool.subscribe(
          side.subject,
          (body, id) => {
            firstAt ??= performance.now();
            const { seq } = readStamp(body);
            if (seq < params.messages) receiver.take(seq, id);
            else receiver.duplicates += 1;
          },
          (err) => {
            streamError ??= err.message;
          },
          side.firstId - 1,
        );
        const done = await waitUntil(
          () => receiver.received >= params.messages || streamError !== undefined,
          120_000,
          5,
        );
        const elapsedMs = performance.now() - t0;
        subscription.cancel();
        const cpuAfter = sourceCpuMs(side.peer);
        outcome.cpuMs =
          outcome.cpuMs === undefined || cpuBefore === undefined || cpuAfter === undefined
            ? undefined
            : outcome.cpuMs + cpuAfter - cpuBefore;
        outcome.elapsedMs += elapsedMs;
        outcome.received += receiver.received;
        if (firstAt !== undefined) outcome.firstMessage.recordMs(firstAt - t0);
        if (!done) outcome.problems.push(`round ${round}: ${receiver.received}/${params.messages} within 120 s`);
        if (streamError) outcome.problems.push(`round ${round}: ${streamError}`);
        if (receiver.duplicates) outcome.problems.push(`round ${round}: ${receiver.duplicates} duplicates`);
        if (receiver.outOfOrder) outcome.problems.push(`round ${round}: ${receiver.outOfOrder} out of order`);
      } catch (err) {
        outcome.problems.push(`round ${round}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await pool.close();
      }
      progress.update(`${scenario} ${side.peer.target}: round ${round + 1}, ${receiver.received} replayed`);
    }
  }
  return stored.map((side, i) => {
    const outcome = outcomes[i] as (typeof outcomes)[number];
    const lost = params.messages * params.rounds - outcome.received;
    const problems = [...outcome.problems, ...(lost > 0 ? [`${lost} messages not replayed`] : [])];
    return {
      scenario,
      target: side.peer.target,
      status: problems.length > 0 ? "failed" : "ok",
      ...(problems.length ? { note: problems.join("; ") } : {}),
      throughput: outcome.elapsedMs > 0 ? (outcome.received * 1000) / outcome.elapsedMs : 0,
      unit: "messages/s",
      latency: outcome.firstMessage.summary(),
      serverCpuUsPerOp: perOpUs(outcome.cpuMs, outcome.received),
      errors: outcome.problems.length,
      lost,
      extra: {
        bodyBytes: params.bodyBytes,
        messages: params.messages,
        rounds: params.rounds,
        // Per round: from the subscribe call to the last message.
        replayMs: outcome.elapsedMs / params.rounds,
      },
    };
  });
}

/** Stores the messages on a fresh subject; their body carries their index. */
async function store(ctx: BenchContext, peer: Peer, scenario: string, params: PeerReplayParams): Promise<Stored> {
  const subject = `bench-${scenario}-${ctx.runId}`;
  await peer.prepare(subject);
  const publisher = peer.publisher(2);
  let firstId = Number.POSITIVE_INFINITY;
  let stored = 0;
  try {
    const batches = Math.ceil(params.messages / PUBLISH_BATCH);
    const run = await closedLoop(
      `${scenario} ${peer.target}: storing`,
      { concurrency: 4, durationMs: 300_000, maxOps: batches },
      async (batch) => {
        const count = Math.min(PUBLISH_BATCH, params.messages - batch * PUBLISH_BATCH);
        const bodies = Array.from({ length: count }, (_, k) =>
          stampedBody(batch * PUBLISH_BATCH + k, 0, params.bodyBytes),
        );
        const ids = await publisher.publishBatch(subject, bodies);
        stored += ids.length;
        firstId = Math.min(firstId, ...ids);
      },
    );
    if (run.errors > 0 || stored !== params.messages) {
      throw new Error(`storing ${params.messages} messages: ${stored} stored, ${run.firstError ?? "no error"}`);
    }
  } finally {
    await publisher.close();
  }
  return { peer, subject, firstId };
}
