/**
 * `npm run bench:patches`: what each library patch (gateway/src/patches,
 * docs/patches.md) buys, measured side by side in one run. Each gateway figure
 * is a gateway process (built, one worker, pinned to BENCH_SERVER_CPUS) run
 * with GATEWAY_PATCHES off and on, alternating; then each patch alone against
 * off, in this process (patches-micro.ts). Bounded: BENCH_PATCHES_SECONDS (default 3) per measurement, about
 * a minute and a half in all; loopback only. A shared machine is noisy:
 * trust ratios measured in the same run, and re-run before quoting one.
 */
import { randomUUID } from "node:crypto";
import { REDIS_URL } from "../../../test/support/services.js";
import { BrokerChannels } from "../grpc-client.js";
import { closedLoop } from "../load.js";
import { pinToCpus } from "../proc.js";
import { perOpUs, withServerCpu } from "../results.js";
import { CLIENT_CPUS, type EngineName, startGateway } from "../servers.js";
import {
  archiveLookups,
  engineAppends,
  type Figure,
  histogramObserve,
  serverStreamWrites,
  unaryNoopCalls,
} from "./patches-micro.js";

const SECONDS = Number(process.env.BENCH_PATCHES_SECONDS ?? 3);
const DURATION_MS = SECONDS * 1000;
const NO_LIMIT = 100_000_000;

function print(title: string, unit: string, figures: readonly Figure[]): void {
  const offs = figures.filter((f) => f.patches === "off" && f.cpuUs !== undefined);
  // Against the mean of the "off" rows of the same run.
  const offCpu = offs.reduce((sum, f) => sum + (f.cpuUs ?? 0), 0) / offs.length;
  console.log(`\n${title}`);
  console.log(`  ${"GATEWAY_PATCHES".padEnd(48)} ${unit.padStart(14)}        CPU/op   CPU vs off`);
  for (const f of figures) {
    const ratio = offCpu && f.cpuUs ? (f.cpuUs / offCpu).toFixed(2) : "-";
    const cpu =
      f.cpuUs === undefined ? "-" : f.cpuUs < 1 ? `${(f.cpuUs * 1000).toFixed(0)} ns` : `${f.cpuUs.toFixed(1)} µs`;
    const errors = f.errors > 0 ? `  (${f.errors} errors)` : "";
    console.log(
      `  ${f.patches.padEnd(48)} ${Math.round(f.rate).toString().padStart(14)}  ${cpu.padStart(12)}   ${ratio.padStart(10)}${errors}`,
    );
  }
}

/** Unary Publish on the Redis engine: 128-byte bodies, 128 calls in flight over 4 channels (as the bench's unary scenario). */
async function unaryPublish(patches: string): Promise<Figure> {
  const server = await startGateway("redis", REDIS_URL, { GATEWAY_PATCHES: patches });
  const client = new BrokerChannels(server.address, 4);
  try {
    const body = new Uint8Array(128).fill(7);
    const subject = `bench-patches-${randomUUID().slice(0, 8)}`;
    const publish = () => client.publish({ subject, body, expirationSeconds: 60, idempotencyKey: "" });
    await closedLoop("warm-up", { concurrency: 128, durationMs: 500, maxOps: 5_000 }, publish);
    const { value, serverCpuMs } = await withServerCpu(server, () =>
      closedLoop(`publish (${patches})`, { concurrency: 128, durationMs: DURATION_MS, maxOps: NO_LIMIT }, publish),
    );
    return {
      patches,
      rate: value.ok / (value.elapsedMs / 1000),
      cpuUs: perOpUs(serverCpuMs, value.ok),
      errors: value.errors,
    };
  } finally {
    client.close();
    await server.stop();
  }
}

/** Fan-out on the memory engine: batches of 100 × 1 KiB published to one subject, 8 gRPC subscribers. */
async function fanOut(patches: string): Promise<Figure> {
  const engine: EngineName = "memory";
  const server = await startGateway(engine, REDIS_URL, { GATEWAY_PATCHES: patches });
  const subscribers = new BrokerChannels(server.address, 4);
  const publisher = new BrokerChannels(server.address, 1);
  const subject = `bench-patches-fan-out-${randomUUID().slice(0, 8)}`;
  const streams: { cancel: () => void }[] = [];
  let delivered = 0;
  try {
    for (let i = 0; i < 8; i++) {
      streams.push(
        await subscribers.subscribeBodies(
          subject,
          () => {
            delivered += 1;
          },
          () => {},
        ),
      );
    }
    const messages = Array.from({ length: 100 }, () => ({
      subject,
      body: new Uint8Array(1024).fill(7),
      expirationSeconds: 60,
      idempotencyKey: "",
    }));
    const publish = () => publisher.publishBatch({ messages });
    await closedLoop("warm-up", { concurrency: 2, durationMs: 500, maxOps: 100 }, publish);
    const { value, serverCpuMs } = await withServerCpu(server, async () => {
      const startedWith = delivered;
      const t0 = performance.now();
      const loop = await closedLoop(
        `fan-out (${patches})`,
        { concurrency: 2, durationMs: DURATION_MS, maxOps: NO_LIMIT },
        publish,
      );
      // Counted until every subscriber has what was published (or 5 s more).
      const expected = startedWith + loop.ok * 100 * 8;
      const deadline = performance.now() + 5_000;
      while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return { count: delivered - startedWith, elapsedMs: performance.now() - t0, errors: loop.errors };
    });
    return {
      patches,
      rate: value.count / (value.elapsedMs / 1000),
      cpuUs: perOpUs(serverCpuMs, value.count),
      errors: value.errors,
    };
  } finally {
    for (const stream of streams) stream.cancel();
    subscribers.close();
    publisher.close();
    await server.stop();
  }
}

pinToCpus(process.pid, CLIENT_CPUS);
console.log(`bench:patches ${new Date().toISOString()}, ${SECONDS} s per measurement`);
const ROUNDS = ["off", "on", "off", "on"];
const unary: Figure[] = [];
for (const patches of ROUNDS) unary.push(await unaryPublish(patches));
print("Gateway: unary Publish, Redis engine (gRPC, 128 in flight over 4 channels)", "publishes/s", unary);
const fan: Figure[] = [];
for (const patches of ROUNDS) fan.push(await fanOut(patches));
print("Gateway: fan-out, memory engine (batches of 100 × 1 KiB, 8 gRPC subscribers)", "deliveries/s", fan);
print("grpc-js-server-call: a server stream of 20,000 × 1 KiB (in process)", "messages/s", await serverStreamWrites());
print("node-http2-stream-tables: no-op unary gRPC calls (in process)", "calls/s", await unaryNoopCalls(SECONDS));
print("ioredis-corked-socket: RedisEngine appends (in process)", "appends/s", await engineAppends(SECONDS));
print("pg-point-lookup: ArchiveStore.get (in process)", "lookups/s", await archiveLookups(SECONDS));
print("prom-client-label-free-histogram: observe() (in process)", "observes/s", await histogramObserve());
