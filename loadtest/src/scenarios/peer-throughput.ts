import { type Participant, sampled } from "../interleave.js";
import { closedLoop } from "../load.js";
import type { Peer } from "../peers/peer.js";
import type { BenchContext } from "../results.js";

/** In flight on every system: 128 publishes over 4 connections; 8 batches of 100 over 2 connections. */
const PUBLISH_CONNECTIONS = 4;
const PUBLISH_IN_FLIGHT = 128;
export const PEER_BATCH_SIZE = 100;
const BATCH_CONNECTIONS = 2;
const BATCHES_IN_FLIGHT = 8;
const NO_LIMIT = 100_000_000;

export function sizeLabel(bodyBytes: number): string {
  return bodyBytes >= 1024 ? `${bodyBytes / 1024}KiB` : `${bodyBytes}B`;
}

/** Unary publish with ack, closed loop; every ack must carry an id above the previous one on its connection. */
export async function peerPublishParticipant(
  ctx: BenchContext,
  peer: Peer,
  bodyBytes: number,
  target = peer.target,
): Promise<Participant> {
  const subject = `bench-peer-publish-${sizeLabel(bodyBytes)}-${ctx.runId}`;
  await peer.prepare(subject);
  const publisher = peer.publisher(PUBLISH_CONNECTIONS);
  const body = new Uint8Array(bodyBytes).fill(7);
  let wrong = 0;
  const publish = async () => {
    if ((await publisher.publish(subject, body)) <= 0) wrong += 1;
  };
  await closedLoop(
    `publish warm-up ${target}`,
    { concurrency: PUBLISH_IN_FLIGHT, durationMs: ctx.smoke ? 100 : 500, maxOps: 5_000 },
    publish,
  );
  return {
    scenario: `peer-publish-${sizeLabel(bodyBytes)}`,
    target,
    unit: "publishes/s",
    extra: { bodyBytes, inFlight: PUBLISH_IN_FLIGHT, connections: PUBLISH_CONNECTIONS },
    measure: (durationMs) =>
      sampled(
        peer,
        1,
        () => wrong,
        () =>
          closedLoop(`publish ${target}`, { concurrency: PUBLISH_IN_FLIGHT, durationMs, maxOps: NO_LIMIT }, publish),
      ),
    close: () => publisher.close(),
  };
}

/**
 * Batches of 100: a gateway PublishBatch, JetStream's async publish (100
 * publishes sent at once, their acks awaited together), 100 pipelined XADDs.
 * Ids within a batch must increase. Throughput in messages/s.
 */
export async function peerBatchParticipant(ctx: BenchContext, peer: Peer, bodyBytes: number): Promise<Participant> {
  const subject = `bench-peer-batch-${sizeLabel(bodyBytes)}-${ctx.runId}`;
  await peer.prepare(subject);
  const publisher = peer.publisher(BATCH_CONNECTIONS);
  const bodies = Array.from({ length: PEER_BATCH_SIZE }, () => new Uint8Array(bodyBytes).fill(7));
  let wrong = 0;
  const batch = async () => {
    const ids = await publisher.publishBatch(subject, bodies);
    if (ids.length !== PEER_BATCH_SIZE || ids.some((id, i) => id <= 0 || (i > 0 && id <= (ids[i - 1] ?? 0)))) {
      wrong += 1;
    }
  };
  await closedLoop(
    `batch warm-up ${peer.target}`,
    { concurrency: BATCHES_IN_FLIGHT, durationMs: ctx.smoke ? 100 : 300, maxOps: 200 },
    batch,
  );
  return {
    scenario: `peer-batch-${sizeLabel(bodyBytes)}`,
    target: peer.target,
    unit: "messages/s",
    extra: { bodyBytes, batchSize: PEER_BATCH_SIZE, batchesInFlight: BATCHES_IN_FLIGHT },
    measure: (durationMs) =>
      sampled(
        peer,
        PEER_BATCH_SIZE,
        () => wrong,
        () =>
          closedLoop(`batch ${peer.target}`, { concurrency: BATCHES_IN_FLIGHT, durationMs, maxOps: NO_LIMIT }, batch),
      ),
    close: () => publisher.close(),
  };
}
