import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { BrokerChannels } from "../grpc-client.js";
import { interleaved, type Participant, sampled } from "../interleave.js";
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
 * and one with AUTH_JWT_SECRET, loaded alike and measured interleaved, so the
 * server CPU per publish of the two can be compared (the target: auth on
 * within 10% of auth off). The token carries several patterns, so each
 * publish misses the exact-subject set and walks wildcard patterns before
 * the one that allows it; every call sends the token, as a real client does.
 */
export async function authScenario(ctx: BenchContext, rounds: number, durationMs: number): Promise<ScenarioResult[]> {
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
    const results = await interleaved(participants, rounds, durationMs);
    const [off, on] = results.map((r) => r.serverCpuUsPerOp);
    if (off !== undefined && on !== undefined) {
      const extra = { cpuVsAuthOff: Number((on / off).toFixed(3)) };
      results[1] = {
        ...(results[1] as ScenarioResult),
        extra,
        note: `server CPU/publish ${pct(on / off)} of auth off`,
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
