import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { waitForServer } from "./grpc-client.js";
import { interleaved, type Participant } from "./interleave.js";
import { checkPeerTargets } from "./peer-targets.js";
import { pinToCpus } from "./proc.js";
import { progress } from "./progress.js";
import { writeReport } from "./report/markdown.js";
import { sideBySideTable } from "./report/side-by-side.js";
import { type BenchContext, failed, type ScenarioResult } from "./results.js";
import { archiveScenarios } from "./scenarios/archive.js";
import { authScenario } from "./scenarios/auth.js";
import { rawPostgresBaseline, rawRedisParticipants } from "./scenarios/baselines.js";
import { e2eScenario, fanoutScenario } from "./scenarios/delivery.js";
import { idleScenario } from "./scenarios/idle.js";
import { peerScenarios } from "./scenarios/peers.js";
import { batchParticipant, hotFetchParticipant, publishParticipant } from "./scenarios/unary.js";
import { CLIENT_CPUS, remoteTarget, type ServerProcess, startGateway, startNoopServer } from "./servers.js";
import { checkTargets } from "./targets.js";

const USAGE = `npm run bench -- [options]
  --smoke              every scenario briefly, correctness only (CI); exits 1 on any failure or loss
  --target HOST:PORT   load a gateway someone else runs instead of starting memory and Redis gateways
  --only a,b           run only these scenarios (publish, batch-publish, e2e-delivery, fan-out,
                       idle-subscribers, hot-fetch, baselines, archive, auth, nats: side by side with JetStream)
  --out DIR            where results.json, report.md and the SVG plots go
                       (default loadtest/report, or a temp dir with --smoke)
env: REDIS_URL (redis://127.0.0.1:6379), DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
     NATS_SERVER_BIN (/usr/sbin/nats-server),
     BENCH_SERVER_CPUS (0), BENCH_CLIENT_CPUS (1), BENCH_SERVER_NODE_ARGS (e.g. --cpu-prof)`;

type EngineScenario = (ctx: BenchContext, server: ServerProcess, target: string) => Promise<ScenarioResult>;
type Prepare = (ctx: BenchContext, server: ServerProcess, target: string) => Promise<Participant>;

/** Throughput scenarios, measured interleaved with their baselines. */
const THROUGHPUT_SCENARIOS: [string, Prepare][] = [
  ["publish", publishParticipant],
  ["batch-publish", batchParticipant],
  ["hot-fetch", hotFetchParticipant],
];

/** Scenarios run on a fresh gateway per engine (delivery, then idle memory on another fresh one). */
const DELIVERY_SCENARIOS: [string, EngineScenario][] = [
  ["e2e-delivery", e2eScenario],
  ["fan-out", fanoutScenario],
];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      target: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const smoke = values.smoke === true;
  const only = values.only ? new Set(values.only.split(",")) : undefined;
  const wanted = (name: string) => !only || only.has(name);
  const ctx: BenchContext = {
    smoke,
    redisUrl: process.env.REDIS_URL || "redis://127.0.0.1:6379",
    databaseUrl: process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test",
    runId: randomUUID().slice(0, 8),
  };
  const outDir = path.resolve(
    values.out ?? (smoke ? path.join(os.tmpdir(), `bench-smoke-${ctx.runId}`) : "loadtest/report"),
  );
  const pinned = pinToCpus(process.pid, CLIENT_CPUS);
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const results: ScenarioResult[] = [];
  const record = (result: ScenarioResult) => {
    results.push(result);
    const figure = result.throughput === undefined ? "" : ` ${Math.round(result.throughput)} ${result.unit}`;
    const p99 = result.latency ? ` p99 ${result.latency.p99.toFixed(2)} ms` : "";
    const cpu = result.serverCpuUsPerOp === undefined ? "" : ` cpu ${result.serverCpuUsPerOp.toFixed(1)} µs/op`;
    progress.done(
      `${result.status.padEnd(13)} ${result.scenario} [${result.target}]${figure}${p99}${cpu}${result.note ? ` (${result.note})` : ""}`,
    );
  };
  const guarded = async (scenario: string, target: string, run: () => Promise<ScenarioResult | ScenarioResult[]>) => {
    try {
      const out = await run();
      for (const r of Array.isArray(out) ? out : [out]) record(r);
    } catch (err) {
      record(failed(scenario, target, err));
    }
  };

  const rounds = smoke ? 1 : 4;
  const throughputMs = smoke ? 1_000 : 8_000;
  const servers: { target: string; server: ServerProcess }[] = [];
  try {
    if (!THROUGHPUT_SCENARIOS.some(([name]) => wanted(name))) {
      // No throughput scenario asked for: no servers to start here.
    } else if (values.target) {
      // Someone else's gateway: the scenarios only, no baselines, CPU or memory readings.
      const server = remoteTarget(values.target);
      await waitForServer(server.address);
      servers.push({ target: "target", server });
    } else {
      if (wanted("baselines")) servers.push({ target: "no-op gRPC", server: await startNoopServer() });
      for (const engine of ["memory", "redis"] as const) {
        servers.push({ target: engine, server: await startGateway(engine, ctx.redisUrl) });
      }
    }
    for (const [name, prepare] of THROUGHPUT_SCENARIOS) {
      if (!wanted(name)) continue;
      const participants: Participant[] = [];
      for (const { target, server } of servers) {
        try {
          participants.push(await prepare(ctx, server, target));
        } catch (err) {
          record(failed(name, target, err));
        }
      }
      let raw: Awaited<ReturnType<typeof rawRedisParticipants>> | undefined;
      if (!values.target && wanted("baselines") && name !== "publish") {
        try {
          raw = await rawRedisParticipants(ctx);
          participants.push(name === "batch-publish" ? raw.xadd : raw.xrange);
        } catch (err) {
          record(failed(name === "batch-publish" ? "raw-xadd" : "raw-xrange", "raw Redis", err));
        }
      }
      try {
        for (const result of await interleaved(participants, rounds, throughputMs)) record(result);
      } catch (err) {
        record(failed(name, "all", err));
      } finally {
        for (const participant of participants) await participant.close();
        if (raw) await (name === "batch-publish" ? raw.xrange : raw.xadd).close();
      }
    }
  } finally {
    for (const { server } of servers) await server.stop();
  }
  if (!values.target && wanted("baselines")) {
    // Into the archive table's shape (the archiver target's baseline), then without its
    // expires_at index, to show that index's share of the cost.
    await guarded("raw-insert", "raw PostgreSQL", () => rawPostgresBaseline(ctx));
    await guarded("raw-insert-no-expiry-index", "raw PostgreSQL", () => rawPostgresBaseline(ctx, true));
  }
  if (!values.target && DELIVERY_SCENARIOS.some(([name]) => wanted(name))) {
    // The delivery ceiling: the same client and gRPC stack, a server that only relays each publish.
    const server = await startNoopServer();
    try {
      for (const [name, scenario] of DELIVERY_SCENARIOS) {
        if (wanted(name)) await guarded(name, "no-op gRPC", () => scenario(ctx, server, "no-op gRPC"));
      }
    } finally {
      await server.stop();
    }
  }
  const engines = values.target ? (["target"] as const) : (["memory", "redis"] as const);
  for (const engine of engines) {
    const fresh = () =>
      engine === "target" ? Promise.resolve(remoteTarget(values.target as string)) : startGateway(engine, ctx.redisUrl);
    if (DELIVERY_SCENARIOS.some(([name]) => wanted(name))) {
      const server = await fresh();
      try {
        for (const [name, scenario] of DELIVERY_SCENARIOS) {
          if (wanted(name)) await guarded(name, engine, () => scenario(ctx, server, engine));
        }
      } finally {
        await server.stop();
      }
    }
    if (wanted("idle-subscribers")) {
      // A fresh process, so its memory holds only the idle subscriptions.
      const server = await fresh();
      try {
        await guarded("idle-subscribers", engine, () => idleScenario(ctx, server, engine));
      } finally {
        await server.stop();
      }
    }
  }
  if (!values.target && wanted("auth")) {
    // Publish CPU with authentication on next to off (scenarios/auth.ts).
    await guarded("auth-publish", "memory", () => authScenario(ctx));
  }
  if (!values.target && wanted("archive")) {
    await guarded("archive", "redis+archive", () => archiveScenarios(ctx));
  }
  if (!values.target && wanted("nats")) await peerScenarios(ctx, record);

  const run = {
    startedAt,
    smoke,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      node: process.version,
      pinned,
      // Other work on the machine: the 1-minute load average when the run started and ended.
      loadAverage: { start: loadAtStart, end: os.loadavg()[0] ?? 0 },
    },
    results,
    targets: smoke ? [] : checkTargets(results),
    peerTargets: smoke ? [] : checkPeerTargets(results),
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "results.json"), `${JSON.stringify(run, null, 2)}\n`);
  writeReport(outDir, run);
  const sideBySide = sideBySideTable(results);
  if (sideBySide)
    process.stdout.write(`\nSide by side with NATS JetStream (gateway counts its Redis):\n${sideBySide}\n\n`);
  for (const t of run.peerTargets) {
    process.stdout.write(`${t.met === undefined ? "n/a" : t.met ? "met   " : "MISSED"} ${t.target}: ${t.measured}\n`);
  }
  process.stderr.write(`results: ${path.join(outDir, "results.json")}\nreport:  ${path.join(outDir, "report.md")}\n`);
  const bad = results.filter((r) => r.status === "failed" || (r.lost ?? 0) > 0);
  if (smoke) {
    // The plain summary line CI reads after the test runner's (scenarios not available count as skipped).
    const skipped = results.filter((r) => r.status === "not available").length;
    process.stdout.write(
      `smoke: ${results.length - bad.length - skipped} passed, ${bad.length} failed, ${skipped} skipped\n`,
    );
  }
  if (bad.length > 0) {
    process.stderr.write(`${bad.length} scenario(s) failed or lost messages\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
