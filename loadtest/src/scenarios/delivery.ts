import { monitorEventLoopDelay } from "node:perf_hooks";
import { LatencyHistogram, wallClockMs } from "../histogram.js";
import { constantRate, sleep, waitUntil } from "../load.js";
import { progress } from "../progress.js";
import { RawPublisher } from "../raw-publisher.js";
import { RawSubscriberPool } from "../raw-subscriber.js";
import { type BenchContext, perOpUs, type ScenarioResult, withServerCpu } from "../results.js";
import type { ServerProcess } from "../servers.js";
import { Receiver, readStamp, stampedBody, WARM_UP_SEQ } from "../stamp.js";

interface DeliveryParams {
  readonly scenario: string;
  readonly subscribers: number;
  readonly ratePerSecond: number;
  readonly durationMs: number;
}

/**
 * Publishes at a constant rate to one subject that `subscribers` clients
 * follow, and measures delivery latency (receive time minus the due time in
 * the body) over every delivery. A message published successfully that some
 * subscriber never receives counts as lost.
 */
async function deliveryRun(
  ctx: BenchContext,
  server: ServerProcess,
  target: string,
  params: DeliveryParams,
): Promise<ScenarioResult> {
  const subject = `bench-${params.scenario}-${ctx.runId}`;
  const expected = Math.max(1, Math.floor((params.ratePerSecond * params.durationMs) / 1000));
  const subscriberChannels = new RawSubscriberPool(server.address, Math.max(1, Math.ceil(params.subscribers / 100)));
  const publisher = new RawPublisher(server.address);
  const delivery = new LatencyHistogram();
  const receivers: Receiver[] = [];
  const streams: { cancel: () => void }[] = [];
  const streamErrors: string[] = [];
  try {
    // Open the subscriptions, 100 at a time; each is live once its headers arrive.
    for (let i = 0; i < params.subscribers; i += 100) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(100, params.subscribers - i) }, () => {
          const receiver = new Receiver(expected);
          receivers.push(receiver);
          return subscriberChannels.subscribe(
            subject,
            (body, id) => {
              const { sentAt, seq } = readStamp(body);
              if (seq >= WARM_UP_SEQ) {
                receiver.warmUps += 1;
                return;
              }
              delivery.recordMs(wallClockMs() - sentAt);
              if (seq < expected) receiver.take(seq, id);
            },
            (err) => {
              if (err) streamErrors.push(err.message);
            },
          );
        }),
      );
      streams.push(...opened);
      progress.update(`${params.scenario} ${target}: ${streams.length}/${params.subscribers} subscribed`);
    }
    // Warm-up at the same rate (JIT, connection windows): its messages are not measured.
    const warmUp = await constantRate(
      `${params.scenario} ${target} warm-up`,
      { ratePerSecond: params.ratePerSecond, durationMs: ctx.smoke ? 200 : 2_000 },
      (i, dueAt) => publisher.publish(subject, stampedBody(WARM_UP_SEQ + i, performance.timeOrigin + dueAt), 60),
    );
    await waitUntil(() => receivers.every((r) => r.warmUps >= warmUp.ok), 10_000, 20);
    const published = new Uint8Array(expected);
    const clientCpuBefore = process.cpuUsage();
    // The load client's own stalls (GC, a busy loop), to tell them from the gateway's.
    const clientLoopDelay = monitorEventLoopDelay({ resolution: 2 });
    clientLoopDelay.enable();
    const {
      value: run,
      serverCpuMs,
      serverGc,
    } = await withServerCpu(server, async () => {
      const run = await constantRate(
        `${params.scenario} ${target}`,
        { ratePerSecond: params.ratePerSecond, durationMs: params.durationMs },
        async (seq, dueAt) => {
          await publisher.publish(subject, stampedBody(seq, performance.timeOrigin + dueAt), 60);
          published[seq] = 1;
        },
      );
      clientLoopDelay.disable();
      // Everything published must arrive at every subscriber. Late is not lost: wait while
      // deliveries still progress (up to 60 s); lateness shows in the latency figures.
      const publishedCount = published.reduce((a, b) => a + b, 0);
      const total = () => receivers.reduce((sum, r) => sum + r.received, 0);
      for (let last = -1, waited = 0; waited < 60_000 && total() !== last; waited += 2_000) {
        last = total();
        if (await waitUntil(() => receivers.every((r) => r.received >= publishedCount), 2_000, 20)) break;
      }
      return run;
    });
    const clientCpu = process.cpuUsage(clientCpuBefore);
    let lost = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    for (const receiver of receivers) {
      for (let seq = 0; seq < expected; seq++) if (published[seq] && !receiver.seen[seq]) lost += 1;
      duplicates += receiver.duplicates;
      outOfOrder += receiver.outOfOrder;
    }
    const deliveries = receivers.reduce((sum, r) => sum + r.received, 0);
    const problems = [
      run.firstError,
      streamErrors[0] && `${streamErrors.length} streams failed: ${streamErrors[0]}`,
      lost && `${lost} deliveries missing`,
      duplicates && `${duplicates} duplicates`,
      outOfOrder && `${outOfOrder} out of order`,
      run.late && `the sender fell behind schedule ${run.late} times`,
    ].filter(Boolean);
    return {
      scenario: params.scenario,
      target,
      status:
        run.errors > 0 || lost > 0 || duplicates > 0 || outOfOrder > 0 || streamErrors.length > 0 || run.ok === 0
          ? "failed"
          : "ok",
      ...(problems.length ? { note: problems.join("; ") } : {}),
      throughput: (deliveries * 1000) / run.elapsedMs,
      unit: "deliveries/s",
      latency: delivery.summary(),
      serverCpuUsPerOp: perOpUs(serverCpuMs, deliveries),
      errors: run.errors,
      lost,
      extra: {
        subscribers: params.subscribers,
        ratePerSecond: params.ratePerSecond,
        published: run.ok,
        publishAckP99Ms: run.latency.summary().p99,
        // The load client's own CPU: near one core means the client, not the server, limits the run.
        clientCpuShare: (clientCpu.user + clientCpu.system) / 1000 / run.elapsedMs,
        // How late the load client's timers fired while it sent (its own stalls; 2 ms resolution).
        clientLoopDelayP99Ms: clientLoopDelay.percentile(99) / 1e6,
        clientLoopDelayMaxMs: clientLoopDelay.max / 1e6,
        // The server's own pauses: what the latency tail is made of, when it is GC.
        ...serverGc,
      },
    };
  } finally {
    for (const stream of streams) stream.cancel();
    await sleep(50);
    subscriberChannels.close();
    publisher.close();
  }
}

/** One subscriber, 2,000 messages/s (smoke: 200/s for 1 s). */
export function e2eScenario(ctx: BenchContext, server: ServerProcess, target: string): Promise<ScenarioResult> {
  return deliveryRun(ctx, server, target, {
    scenario: "e2e-delivery",
    subscribers: 1,
    ratePerSecond: ctx.smoke ? 200 : 2_000,
    durationMs: ctx.smoke ? 1_000 : 10_000,
  });
}

/** One subject to 1,000 subscribers at 100 messages/s (smoke: 50 subscribers, 1 s). */
export function fanoutScenario(ctx: BenchContext, server: ServerProcess, target: string): Promise<ScenarioResult> {
  return deliveryRun(ctx, server, target, {
    scenario: "fan-out",
    subscribers: ctx.smoke ? 50 : 1_000,
    ratePerSecond: 100,
    durationMs: ctx.smoke ? 1_000 : 10_000,
  });
}
