import { interleaved, type Participant } from "../interleave.js";
import { gatewayPeer } from "../peers/gateway-peer.js";
import { jetStreamPeer, MESSAGES_PER_SUBJECT } from "../peers/jetstream-peer.js";
import type { Peer } from "../peers/peer.js";
import { type PrivateServer, startNatsServer, startRedisServer } from "../peers/private-servers.js";
import { rawRedisPeer } from "../peers/raw-redis-peer.js";
import { type BenchContext, failed, type ScenarioResult } from "../results.js";
import { type ServerProcess, startGateway, startNoopServer } from "../servers.js";
import { peerDelivery } from "./peer-delivery.js";
import { peerReplay } from "./peer-replay.js";
import { peerBatchParticipant, peerPublishParticipant, sizeLabel } from "./peer-throughput.js";

/** The body sizes every side-by-side scenario runs with (fan-out: the first only). */
export const PEER_BODY_SIZES = [100, 1024] as const;
export const GATEWAY_TARGET = "gateway (Redis)";
export const LEAN_CLIENT_TARGET = "gateway (Redis), lean h2 client";
export const NOOP_TARGET = "no-op gRPC (transport floor)";

/**
 * The gateway side by side with NATS JetStream, in one run from one client
 * process: a private nats-server (JetStream; memory and file storage as
 * stream settings) and a private redis-server for one gateway worker, all
 * pinned to the server core, started here and stopped at the end. Each
 * scenario measures the systems interleaved (gateway / JetStream memory /
 * JetStream file / ..., round after round) with the same bodies and the same
 * in-flight concurrency; raw Redis (the gateway's own storage commands sent
 * straight to its Redis) runs beside them as the floor under the gateway.
 */
export async function peerScenarios(ctx: BenchContext, record: (result: ScenarioResult) => void): Promise<void> {
  const started: { stop(): Promise<void> }[] = [];
  const peers: Peer[] = [];
  try {
    const redis = await startRedisServer();
    started.push(redis);
    const nats = await startNatsServer();
    started.push(nats);
    const gateway = await startGateway("redis", redis.url, { REDIS_MAXLEN: String(MESSAGES_PER_SUBJECT) });
    started.unshift(gateway);
    const noop = await startNoopServer();
    started.unshift(noop);
    const systems = await openPeers(gateway, redis, nats, noop);
    peers.push(...Object.values(systems));
    await runAll(ctx, systems, record);
  } catch (err) {
    record(failed("peer-setup", "all", err));
  } finally {
    for (const peer of peers) await peer.close().catch(() => {});
    for (const server of started) await server.stop().catch(() => {});
  }
}

interface Systems {
  readonly gateway: Peer;
  readonly gatewayLean: Peer;
  readonly jsMemory: Peer;
  readonly jsFile: Peer;
  /** JetStream memory publishing, plain NATS subscriptions receiving: live delivery only. */
  readonly jsCore: Peer;
  readonly rawRedis: Peer;
  /** The no-op gRPC server (the gateway's service definition, answers at once, relays publishes to subscribers). */
  readonly noop: Peer;
  readonly noopLean: Peer;
}

async function openPeers(
  gateway: ServerProcess,
  redis: PrivateServer,
  nats: PrivateServer,
  noop: ServerProcess,
): Promise<Systems> {
  return {
    gateway: gatewayPeer(gateway, redis.pid),
    gatewayLean: gatewayPeer(gateway, redis.pid, { client: "lean-h2", target: LEAN_CLIENT_TARGET }),
    jsMemory: await jetStreamPeer(nats, "memory"),
    jsFile: await jetStreamPeer(nats, "file"),
    jsCore: await jetStreamPeer(nats, "memory", { coreSubscribers: true }),
    rawRedis: rawRedisPeer(redis),
    noop: gatewayPeer(noop, undefined, { target: NOOP_TARGET }),
    noopLean: gatewayPeer(noop, undefined, { target: NOOP_TARGET, client: "lean-h2" }),
  };
}

async function runAll(ctx: BenchContext, s: Systems, record: (result: ScenarioResult) => void): Promise<void> {
  const smoke = ctx.smoke;
  // Smoke (CI): every scenario and system once, with the first body size only (size is only a parameter).
  const sizes = smoke ? PEER_BODY_SIZES.slice(0, 1) : PEER_BODY_SIZES;
  // About five minutes in all on a quiet machine of this kind (smoke: about one).
  const rounds = smoke ? 1 : 3;
  const throughputMs = smoke ? 300 : 3_000;
  const guarded = async (scenario: string, run: () => Promise<ScenarioResult[]>) => {
    try {
      for (const result of await run()) record(result);
    } catch (err) {
      record(failed(scenario, "all", err));
    }
  };
  const throughput = async (scenario: string, prepare: (() => Promise<Participant>)[]) =>
    guarded(scenario, async () => {
      const participants: Participant[] = [];
      try {
        for (const p of prepare) participants.push(await p());
        return await interleaved(participants, rounds, throughputMs);
      } finally {
        for (const participant of participants) await participant.close();
      }
    });
  for (const size of sizes) {
    // The lean-client gateway publisher rides along to measure what that client saves (issue 20).
    await throughput(`peer-publish-${sizeLabel(size)}`, [
      () => peerPublishParticipant(ctx, s.gateway, size),
      () => peerPublishParticipant(ctx, s.jsMemory, size),
      () => peerPublishParticipant(ctx, s.jsFile, size),
      () => peerPublishParticipant(ctx, s.rawRedis, size),
      () => peerPublishParticipant(ctx, s.noop, size),
      () => peerPublishParticipant(ctx, s.gatewayLean, size),
    ]);
    await throughput(`peer-batch-${sizeLabel(size)}`, [
      () => peerBatchParticipant(ctx, s.gateway, size),
      () => peerBatchParticipant(ctx, s.jsMemory, size),
      () => peerBatchParticipant(ctx, s.jsFile, size),
      () => peerBatchParticipant(ctx, s.rawRedis, size),
      () => peerBatchParticipant(ctx, s.noop, size),
    ]);
  }
  // Delivery: the gateway through the lean client (as its own delivery scenarios), labelled as the gateway.
  const deliveryGateway: Peer = { ...s.gatewayLean, target: GATEWAY_TARGET };
  for (const size of sizes) {
    await guarded(`peer-e2e-${sizeLabel(size)}`, () =>
      peerDelivery(ctx, [deliveryGateway, s.jsMemory, s.jsFile, s.jsCore, s.rawRedis, s.noopLean], {
        scenario: `peer-e2e-${sizeLabel(size)}`,
        subscribers: 1,
        ratePerSecond: smoke ? 200 : 2_000,
        durationMs: smoke ? 400 : 4_500,
        rounds,
        warmUpMs: smoke ? 100 : 1_500,
        bodyBytes: size,
      }),
    );
  }
  // 1 → 1,000 runs at 100/s: at 1,000/s it would be 10^6 deliveries/s, ten times what one load-client
  // core takes (see docs/performance.md); 1 → 100 at 1,000/s is the same 100,000 deliveries/s.
  for (const [subscribers, rate] of [
    [100, 1_000],
    [1_000, 100],
  ] as const) {
    const scenario = `peer-fanout-${subscribers}`;
    await guarded(scenario, () =>
      peerDelivery(ctx, [deliveryGateway, s.jsMemory, s.jsFile, s.jsCore, s.noopLean], {
        scenario,
        subscribers: smoke ? subscribers / 10 : subscribers,
        ratePerSecond: smoke ? 100 : rate,
        durationMs: smoke ? 400 : 4_500,
        rounds,
        warmUpMs: smoke ? 100 : 1_500,
        bodyBytes: PEER_BODY_SIZES[0],
      }),
    );
  }
  for (const size of sizes) {
    await guarded(`peer-replay-${sizeLabel(size)}`, () =>
      peerReplay(ctx, [deliveryGateway, s.jsMemory, s.jsFile, s.rawRedis], {
        messages: smoke ? 1_000 : 100_000,
        bodyBytes: size,
        rounds: smoke ? 1 : 2,
      }),
    );
  }
}
