/**
 * `npm run bench:patches`: what each library patch (gateway/src/patches,
 * docs/patches.md) buys, measured side by side in one run. Each gateway figure
 * is a gateway process (built, one worker, pinned to BENCH_SERVER_CPUS) run
 * with a GATEWAY_PATCHES setting: all off, all on, and the patches that act on
 * that path alone. The archive lookup and the histogram are measured in this
 * process. Bounded: BENCH_PATCHES_SECONDS (default 3) per measurement, about
 * a minute and a half in all; loopback only. A shared machine is noisy:
 * trust ratios measured in the same run, and re-run before quoting one.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { Histogram, Registry } from "prom-client";
import { loadMigrations, migrate } from "../../../archiver/src/migrations.js";
import { ArchiveStore, DEFAULT_ARCHIVE_STORE_OPTIONS } from "../../../gateway/src/engines/archive/archive-store.js";
import { LabelFreeHistogram } from "../../../gateway/src/patches/prom-client-label-free-histogram.js";
import { createDatabase } from "../../../test/support/archive.js";
import { DATABASE_URL, REDIS_URL } from "../../../test/support/services.js";
import { BrokerChannels } from "../grpc-client.js";
import { closedLoop } from "../load.js";
import { pinToCpus } from "../proc.js";
import { perOpUs, withServerCpu } from "../results.js";
import { CLIENT_CPUS, type EngineName, startGateway } from "../servers.js";

const SECONDS = Number(process.env.BENCH_PATCHES_SECONDS ?? 3);
const DURATION_MS = SECONDS * 1000;
const NO_LIMIT = 100_000_000;
const STREAM_TABLES = "node-http2-stream-tables,grpc-js-http2-servers";

interface Figure {
  readonly patches: string;
  readonly rate: number;
  readonly cpuUs: number | undefined;
  readonly errors: number;
}

function print(title: string, unit: string, figures: readonly Figure[]): void {
  const off = figures.find((f) => f.patches === "off");
  console.log(`\n${title}`);
  console.log(`  ${"GATEWAY_PATCHES".padEnd(48)} ${unit.padStart(14)}        CPU/op   CPU vs off`);
  for (const f of figures) {
    const ratio = off?.cpuUs && f.cpuUs ? (f.cpuUs / off.cpuUs).toFixed(2) : "-";
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

/** Archive point lookups through ArchiveStore (this process), 16 in flight over 4 connections; client CPU per lookup. */
async function archiveLookups(): Promise<Figure[]> {
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: 1 });
  try {
    await migrate(pool, await loadMigrations());
    await pool.query(
      `INSERT INTO broker_messages (subject, id, body, published_at, expires_at)
       SELECT 'lookups', n, decode(repeat('07', 128), 'hex'), 1, 9999999999999 FROM generate_series(1, 1000) AS n`,
    );
    const figures: Figure[] = [];
    for (const patches of ["off", "pg-point-lookup", "off", "pg-point-lookup"]) {
      process.env.GATEWAY_PATCHES = patches;
      const store = new ArchiveStore({ ...DEFAULT_ARCHIVE_STORE_OPTIONS, url: database.url, maxConnections: 4 });
      let wrong = 0;
      const lookup = async (i: number) => {
        const message = await store.get("lookups", (i % 1000) + 1);
        if (message?.body.byteLength !== 128) wrong += 1;
      };
      await closedLoop("warm-up", { concurrency: 16, durationMs: 500, maxOps: 5_000 }, lookup);
      const cpu = process.cpuUsage();
      const result = await closedLoop(
        `archive lookups (${patches})`,
        { concurrency: 16, durationMs: DURATION_MS, maxOps: NO_LIMIT },
        lookup,
      );
      const used = process.cpuUsage(cpu);
      await store.close();
      figures.push({
        patches,
        rate: result.ok / (result.elapsedMs / 1000),
        cpuUs: (used.user + used.system) / result.ok,
        errors: result.errors + wrong,
      });
    }
    return figures;
  } finally {
    delete process.env.GATEWAY_PATCHES;
    await pool.end();
    await database.drop();
  }
}

/** observe() of the delivery-lag histogram, alone: prom-client's Histogram against the label-free one. */
function histogramObserve(): Figure[] {
  const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const count = 2_000_000;
  const time = (patches: string, observe: (value: number) => void): Figure => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < count; i++) observe((i % 1000) / 10_000);
    const used = process.cpuUsage(t0);
    const cpuUs = (used.user + used.system) / count;
    return { patches, rate: 1 / (cpuUs / 1e6), cpuUs, errors: 0 };
  };
  const plain = new Histogram({ name: "plain", help: "h", buckets, registers: [new Registry()] });
  const labelFree = new LabelFreeHistogram("label_free", "h", buckets, [new Registry()]);
  const figures: Figure[] = [];
  for (let pass = 0; pass < 2; pass++) {
    figures.push(time("off", (v) => plain.observe(v)));
    figures.push(time("prom-client-label-free-histogram", (v) => labelFree.observe(v)));
  }
  return figures;
}

pinToCpus(process.pid, CLIENT_CPUS);
console.log(`bench:patches ${new Date().toISOString()}, ${SECONDS} s per measurement (DATABASE_URL ${DATABASE_URL})`);
const unary: Figure[] = [];
for (const patches of ["off", "on", "ioredis-corked-socket", STREAM_TABLES]) unary.push(await unaryPublish(patches));
print("Unary Publish, Redis engine (gRPC, 128 in flight)", "publishes/s", unary);
const fan: Figure[] = [];
for (const patches of ["off", "on", "grpc-js-server-call", "prom-client-label-free-histogram", STREAM_TABLES]) {
  fan.push(await fanOut(patches));
}
print("Fan-out, memory engine (100 × 1 KiB per batch, 8 gRPC subscribers)", "deliveries/s", fan);
print("Archive point lookup (this process's CPU per lookup)", "lookups/s", await archiveLookups());
print("Delivery-lag histogram observe() (this process's CPU per call)", "observes/s", histogramObserve());
