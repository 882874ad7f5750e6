import { BrokerChannels } from "../grpc-client.js";
import { type Participant, sampled } from "../interleave.js";
import { closedLoop } from "../load.js";
import type { BenchContext } from "../results.js";
import type { ServerProcess } from "../servers.js";

/** Shape of the unary load, as in measurements.md: 128-byte bodies, 128 calls in flight over 4 channels. */
const BODY = new Uint8Array(128).fill(7);
const CHANNELS = 4;
const CONCURRENCY = 128;
const NO_LIMIT = 100_000_000;

/** Unary Publish, closed loop; the message is stored (expirationSeconds 60). */
export async function publishParticipant(
  ctx: BenchContext,
  server: ServerProcess,
  target: string,
): Promise<Participant> {
  const client = new BrokerChannels(server.address, CHANNELS);
  const subject = `bench-publish-${ctx.runId}`;
  const publish = () => client.publish({ subject, body: BODY, expirationSeconds: 60, idempotencyKey: "" });
  // Warm up connections and JIT outside the measurement.
  await closedLoop("publish warm-up", { concurrency: CONCURRENCY, durationMs: 500, maxOps: 5_000 }, publish);
  return {
    scenario: "publish",
    target,
    unit: "publishes/s",
    measure: (durationMs) =>
      sampled(
        server,
        1,
        () => 0,
        () => closedLoop(`publish ${target}`, { concurrency: CONCURRENCY, durationMs, maxOps: NO_LIMIT }, publish),
      ),
    close: () => client.close(),
  };
}

export const BATCH_SIZE = 500;

/** PublishBatch of 500 messages to one subject, 8 batches in flight; throughput in messages/s. */
export async function batchParticipant(ctx: BenchContext, server: ServerProcess, target: string): Promise<Participant> {
  const client = new BrokerChannels(server.address, 2);
  const subject = `bench-batch-${ctx.runId}`;
  const messages = Array.from({ length: BATCH_SIZE }, () => ({
    subject,
    body: BODY,
    expirationSeconds: 60,
    idempotencyKey: "",
  }));
  let wrong = 0;
  const batch = async () => {
    const { ids } = await client.publishBatch({ messages });
    if (ids.length !== BATCH_SIZE || ids.some((id, i) => i > 0 && id !== (ids[i - 1] ?? 0n) + 1n)) wrong += 1;
  };
  await closedLoop("batch warm-up", { concurrency: 8, durationMs: 300, maxOps: 100 }, batch);
  return {
    scenario: "batch-publish",
    target,
    unit: "messages/s",
    extra: { batchSize: BATCH_SIZE },
    measure: (durationMs) =>
      sampled(
        server,
        BATCH_SIZE,
        () => wrong,
        () => closedLoop(`batch publish ${target}`, { concurrency: 8, durationMs, maxOps: NO_LIMIT }, batch),
      ),
    close: () => client.close(),
  };
}

const HOT_IDS = 1_000;

/** Fetch of recently published (hot) ids, among 1,000, closed loop; every reply is checked. */
export async function hotFetchParticipant(
  ctx: BenchContext,
  server: ServerProcess,
  target: string,
): Promise<Participant> {
  const client = new BrokerChannels(server.address, CHANNELS);
  const subject = `bench-fetch-${ctx.runId}`;
  const { ids } = await client.publishBatch({
    messages: Array.from({ length: HOT_IDS }, (_, i) => ({
      subject,
      body: bodyWithIndex(i),
      expirationSeconds: 3_600,
      idempotencyKey: "",
    })),
  });
  const noop = target === "no-op gRPC";
  let mismatches = 0;
  const fetchOne = async (i: number) => {
    const index = (i * 7919) % HOT_IDS;
    const id = ids[index] ?? 1n;
    const message = await client.fetch({ subject, id });
    // The no-op server answers a fixed message; the gateway must answer the one asked for.
    if (!noop && (message.id !== id || indexOf(message.body) !== index)) mismatches += 1;
  };
  await closedLoop("fetch warm-up", { concurrency: CONCURRENCY, durationMs: 500, maxOps: 5_000 }, fetchOne);
  return {
    scenario: "hot-fetch",
    target,
    unit: "fetches/s",
    measure: (durationMs) =>
      sampled(
        server,
        1,
        () => mismatches,
        () => closedLoop(`hot fetch ${target}`, { concurrency: CONCURRENCY, durationMs, maxOps: NO_LIMIT }, fetchOne),
      ),
    close: () => client.close(),
  };
}

function bodyWithIndex(i: number): Uint8Array {
  const body = new Uint8Array(128);
  new DataView(body.buffer).setUint32(0, i);
  return body;
}

function indexOf(body: Uint8Array): number {
  return body.byteLength < 4 ? -1 : new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
}
