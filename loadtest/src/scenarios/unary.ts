import { BrokerChannels } from "../grpc-client.js";
import { closedLoop } from "../load.js";
import { type BenchContext, perOpUs, type ScenarioResult, withServerCpu } from "../results.js";
import type { ServerProcess } from "../servers.js";

/** Shape of the unary load, as in measurements.md: 128-byte bodies, 128 calls in flight over 4 channels. */
const BODY = new Uint8Array(128).fill(7);
const CHANNELS = 4;
const CONCURRENCY = 128;

function duration(ctx: BenchContext): number {
  return ctx.smoke ? 1_000 : 8_000;
}

/** Unary Publish, closed loop; the message is stored (expirationSeconds 60). */
export async function publishScenario(
  ctx: BenchContext,
  server: ServerProcess,
  target: string,
): Promise<ScenarioResult> {
  const client = new BrokerChannels(server.address, CHANNELS);
  try {
    const subject = `bench-publish-${ctx.runId}`;
    // Warm up connections and JIT outside the measurement.
    await closedLoop("publish warm-up", { concurrency: CONCURRENCY, durationMs: 500, maxOps: 5_000 }, () =>
      client.publish({ subject, body: BODY, expirationSeconds: 60, idempotencyKey: "" }),
    );
    const { value: run, serverCpuMs } = await withServerCpu(server, () =>
      closedLoop(`publish ${target}`, { concurrency: CONCURRENCY, durationMs: duration(ctx), maxOps: 10_000_000 }, () =>
        client.publish({ subject, body: BODY, expirationSeconds: 60, idempotencyKey: "" }),
      ),
    );
    return {
      scenario: "publish",
      target,
      status: run.errors > 0 || run.ok === 0 ? "failed" : "ok",
      ...(run.firstError ? { note: run.firstError } : {}),
      throughput: (run.ok * 1000) / run.elapsedMs,
      unit: "publishes/s",
      latency: run.latency.summary(),
      serverCpuUsPerOp: perOpUs(serverCpuMs, run.ok),
      errors: run.errors,
    };
  } finally {
    client.close();
  }
}

export const BATCH_SIZE = 500;

/** PublishBatch of 500 messages to one subject, 8 batches in flight; throughput in messages/s. */
export async function batchScenario(ctx: BenchContext, server: ServerProcess, target: string): Promise<ScenarioResult> {
  const client = new BrokerChannels(server.address, 2);
  try {
    const subject = `bench-batch-${ctx.runId}`;
    const messages = Array.from({ length: BATCH_SIZE }, () => ({
      subject,
      body: BODY,
      expirationSeconds: 60,
      idempotencyKey: "",
    }));
    let wrongCount = 0;
    const batch = async () => {
      const { ids } = await client.publishBatch({ messages });
      if (ids.length !== BATCH_SIZE) wrongCount += 1;
    };
    await closedLoop("batch warm-up", { concurrency: 8, durationMs: 300, maxOps: 100 }, batch);
    const { value: run, serverCpuMs } = await withServerCpu(server, () =>
      closedLoop(`batch publish ${target}`, { concurrency: 8, durationMs: duration(ctx), maxOps: 1_000_000 }, batch),
    );
    const messagesOk = run.ok * BATCH_SIZE;
    return {
      scenario: "batch-publish",
      target,
      status: run.errors > 0 || run.ok === 0 || wrongCount > 0 ? "failed" : "ok",
      ...(run.firstError
        ? { note: run.firstError }
        : wrongCount
          ? { note: `${wrongCount} batches with wrong id count` }
          : {}),
      throughput: (messagesOk * 1000) / run.elapsedMs,
      unit: "messages/s",
      latency: run.latency.summary(),
      serverCpuUsPerOp: perOpUs(serverCpuMs, messagesOk),
      errors: run.errors,
      extra: { batchSize: BATCH_SIZE },
    };
  } finally {
    client.close();
  }
}

const HOT_IDS = 1_000;

/** Fetch of recently published (hot) ids, random among 1,000, closed loop; each reply is checked. */
export async function hotFetchScenario(
  ctx: BenchContext,
  server: ServerProcess,
  target: string,
): Promise<ScenarioResult> {
  const client = new BrokerChannels(server.address, CHANNELS);
  try {
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
      if (
        !noop &&
        (message.id !== id || new DataView(message.body.buffer, message.body.byteOffset).getUint32(0) !== index)
      ) {
        mismatches += 1;
      }
    };
    await closedLoop("fetch warm-up", { concurrency: CONCURRENCY, durationMs: 500, maxOps: 5_000 }, fetchOne);
    const { value: run, serverCpuMs } = await withServerCpu(server, () =>
      closedLoop(
        `hot fetch ${target}`,
        { concurrency: CONCURRENCY, durationMs: duration(ctx), maxOps: 10_000_000 },
        fetchOne,
      ),
    );
    return {
      scenario: "hot-fetch",
      target,
      status: run.errors > 0 || run.ok === 0 || mismatches > 0 ? "failed" : "ok",
      ...(run.firstError ? { note: run.firstError } : mismatches ? { note: `${mismatches} wrong messages` } : {}),
      throughput: (run.ok * 1000) / run.elapsedMs,
      unit: "fetches/s",
      latency: run.latency.summary(),
      serverCpuUsPerOp: perOpUs(serverCpuMs, run.ok),
      errors: run.errors,
    };
  } finally {
    client.close();
  }
}

function bodyWithIndex(i: number): Uint8Array {
  const body = new Uint8Array(128);
  new DataView(body.buffer).setUint32(0, i);
  return body;
}
