import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { loadAuthConfig } from "../../../gateway/src/auth/auth-config.js";
import { authenticator, OPEN } from "../../../gateway/src/auth/authenticator.js";
import type { Caller } from "../../../gateway/src/core/caller.js";
import { BrokerChannels } from "../grpc-client.js";
import { LatencyHistogram } from "../histogram.js";
import { type Participant, type Sample, sampled } from "../interleave.js";
import { closedLoop } from "../load.js";
import type { BenchContext, ScenarioResult } from "../results.js";
import { type ServerProcess, startGateway } from "../servers.js";

/** The unary publish shape of scenarios/unary.ts: 128-byte bodies, 128 calls in flight over 4 channels. */
const BODY = new Uint8Array(128).fill(7);
const CHANNELS = 4;
const CONCURRENCY = 128;
const SECRET = "bench-only-secret-of-at-least-32-bytes";

/**
 * What authentication costs a publish: two memory-engine gateways, one open
 * and one with AUTH_JWT_SECRET, loaded alike, measured in alternating slices
 * (off-on, on-off, ...) so drifting load on a shared machine hits both
 * alike. The figure is the median over rounds of the CPU-per-publish ratio
 * (the target: auth on within 10% of auth off). The token carries several
 * patterns, so each publish misses the exact-subject set and walks wildcard
 * patterns before the one that allows it; every call sends the token, as a
 * real client does.
 */
export async function authScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const rounds = ctx.smoke ? 2 : 10;
  const sliceMs = ctx.smoke ? 500 : 1_500;
  const subject = `bench.publish.${ctx.runId}`;
  const token = await new SignJWT({
    broker: {
      publish: ["tenant-a.orders.created", "tenant-a.orders.*.created", "tenant-a.audit.>", "bench.publish.*"],
    },
  })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("bench")
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(SECRET));
  const servers: ServerProcess[] = [];
  const participants: Participant[] = [];
  try {
    for (const auth of ["off", "on"] as const) {
      const env: Record<string, string> = auth === "on" ? { AUTH_JWT_SECRET: SECRET } : {};
      const server = await startGateway("memory", ctx.redisUrl, env);
      servers.push(server);
      participants.push(await publishParticipant(server, `memory, auth ${auth}`, subject, auth === "on" ? token : ""));
    }
    const [off, on] = participants as [Participant, Participant];
    const samples: [Sample[], Sample[]] = [[], []];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const first = round % 2 === 0 ? 0 : 1;
      const pair: Sample[] = [];
      for (const i of [first, 1 - first]) {
        const sample = await (i === 0 ? off : on).measure(sliceMs);
        samples[i as 0 | 1].push(sample);
        pair[i] = sample;
      }
      const [a, b] = pair as [Sample, Sample];
      if (a.serverCpuMs && b.serverCpuMs && a.units && b.units) {
        ratios.push(b.serverCpuMs / b.units / (a.serverCpuMs / a.units));
      }
    }
    const results = [combine(off, samples[0]), combine(on, samples[1])];
    const pathNs = await authPathNsPerCall(token, subject, ctx.smoke ? 20_000 : 500_000);
    if (ratios.length > 0) {
      const median = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)] as number;
      results[1] = {
        ...(results[1] as ScenarioResult),
        extra: {
          cpuVsAuthOffMedian: Number(median.toFixed(3)),
          rounds: ratios.map((r) => r.toFixed(2)).join(" "),
          authPathNsPerCall: Math.round(pathNs),
        },
        note:
          `server CPU/publish ${pct(median)} of auth off (median of ${ratios.length} alternating rounds); ` +
          `the auth path alone (cached token, header lookup, permission check) costs ${Math.round(pathNs)} ns/call in-process`,
      };
    }
    return results;
  } finally {
    for (const participant of participants) await participant.close();
    for (const server of servers) await server.stop();
  }
}

async function publishParticipant(
  server: ServerProcess,
  target: string,
  subject: string,
  token: string,
): Promise<Participant> {
  const client = new BrokerChannels(server.address, CHANNELS, token ? [bearer(token)] : []);
  const publish = () => client.publish({ subject, body: BODY, expirationSeconds: 60, idempotencyKey: "" });
  await closedLoop("auth publish warm-up", { concurrency: CONCURRENCY, durationMs: 500, maxOps: 5_000 }, publish);
  return {
    scenario: "auth-publish",
    target,
    unit: "publishes/s",
    measure: (ms) =>
      sampled(
        server,
        1,
        () => 0,
        () =>
          closedLoop(`publish ${target}`, { concurrency: CONCURRENCY, durationMs: ms, maxOps: 100_000_000 }, publish),
      ),
    close: () => client.close(),
  };
}

/**
 * The per-call work authentication adds inside the gateway, measured in this
 * process's CPU time (so less exposed to other load than the servers' figures):
 * `as()` with a verified token and the permission check, minus the open
 * gateway's `as()`. Both loops build a fresh header string per call, as a
 * request parsed from the wire does. Header transfer and decoding are not in it.
 */
async function authPathNsPerCall(token: string, subject: string, calls: number): Promise<number> {
  const auth = authenticator(loadAuthConfig({ AUTH_JWT_SECRET: SECRET }));
  const done = Promise.resolve(true);
  const check = (caller: Caller) => (caller.mayPublish(subject) ? done : Promise.reject(new Error("denied")));
  const tail = token.slice(1);
  await auth.as(`Bearer ${token}`, check);
  const cpuNs = (run: () => void): number => {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    return ((used.user + used.system) * 1000) / calls;
  };
  let on = 0;
  let off = 0;
  for (let round = 0; round < 4; round++) {
    on += cpuNs(() => {
      for (let i = 0; i < calls; i++) void auth.as(`Bearer ${token[0]}${tail}`, check);
    });
    off += cpuNs(() => {
      for (let i = 0; i < calls; i++) void OPEN.as(`Bearer ${token[0]}${tail}`, check);
    });
  }
  return Math.max(0, (on - off) / 4);
}

/** One target's slices as one result (as interleave.ts combines them). */
function combine(participant: Participant, samples: readonly Sample[]): ScenarioResult {
  const latency = new LatencyHistogram();
  let units = 0;
  let errors = 0;
  let elapsedMs = 0;
  let cpuMs = 0;
  for (const s of samples) {
    latency.add(s.latency);
    units += s.units;
    errors += s.errors;
    elapsedMs += s.elapsedMs;
    cpuMs += s.serverCpuMs ?? 0;
  }
  const firstError = samples.find((s) => s.firstError)?.firstError;
  return {
    scenario: participant.scenario,
    target: participant.target,
    status: errors > 0 || units === 0 ? "failed" : "ok",
    ...(firstError ? { note: firstError } : {}),
    throughput: elapsedMs > 0 ? (units * 1000) / elapsedMs : 0,
    unit: participant.unit,
    latency: latency.summary(),
    ...(units > 0 ? { serverCpuUsPerOp: (cpuMs * 1000) / units } : {}),
    errors,
  };
}

/** Adds `authorization: Bearer <token>` to every call. */
function bearer(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", value);
        next(metadata, listener);
      },
    });
}

const pct = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
