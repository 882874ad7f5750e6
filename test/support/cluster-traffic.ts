import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { loadConfig } from "../../gateway/src/config.js";
import { Gateway } from "../../gateway/src/gateway.js";
import type { BrokerClient } from "./clients.js";
import { eventually } from "./node-process.js";
import type { TestRedisCluster } from "./redis-cluster.js";
import { bytes, sleep, type TestSubscription, text } from "./streams.js";

/** An in-process gateway on a test cluster, with a key prefix of the test's. */
export async function startClusterGateway(cluster: TestRedisCluster, prefix: string): Promise<Gateway> {
  return Gateway.start({
    ...loadConfig({}),
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    redisClusterNodes: cluster.addresses,
    redisKeyPrefix: prefix,
    shutdownTimeoutMs: 2_000,
  });
}

export type PublishLoop = ReturnType<typeof publishLoop>;

/** Publishes to every subject in turn until `stop()`, recording what was acknowledged and what failed. */
export function publishLoop(client: BrokerClient, SUBJECTS: readonly string[]) {
  const acked = new Map<string, Map<number, string>>(SUBJECTS.map((s) => [s, new Map()]));
  const failures: { subject: string; body: string; at: number; code: Code }[] = [];
  const lastAckAt = new Map<string, number>();
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const subject = SUBJECTS[i % SUBJECTS.length] as string;
      const body = `${subject}#${i}`;
      try {
        const { id } = await client.publish({ subject, body: bytes(body), expirationSeconds: 300 });
        const ids = acked.get(subject) as Map<number, string>;
        assert.ok(!ids.has(Number(id)), `${subject}: id ${id} acknowledged twice`);
        ids.set(Number(id), body);
        lastAckAt.set(subject, Date.now());
      } catch (err) {
        if (!(err instanceof ConnectError)) throw err;
        failures.push({ subject, body, at: Date.now(), code: err.code });
        await sleep(20);
      }
    }
  })();
  return {
    acked,
    failures,
    lastAckAt,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Every subscription delivered exactly what was stored, in order: ids 1..n
 * with none twice or skipped, every acknowledged message with its body, and
 * nothing else but publishes whose fate was unknown (they failed). Or, Redis
 * replication being asynchronous, a stream whose subject lost acknowledged
 * writes ended with DATA_LOSS. Returns the subjects that did.
 */
export async function assertDeliveredInOrder(
  load: PublishLoop,
  subscriptions: ReadonlyMap<string, TestSubscription>,
): Promise<string[]> {
  const lost: string[] = [];
  const SUBJECTS = [...subscriptions.keys()];
  const failedBodies = new Set(load.failures.map((f) => f.body));
  for (const subject of SUBJECTS) {
    const acked = load.acked.get(subject) as Map<number, string>;
    const last = Math.max(...acked.keys());
    const subscription = subscriptions.get(subject) as TestSubscription;
    // Either the stream delivers through the last acknowledged id, or (Redis replication
    // being asynchronous) the promoted replica lacked acknowledged writes and the stream
    // ends with DATA_LOSS, never passing reused ids off as new messages.
    const outcome = await eventually(`${subject} delivered through id ${last}`, async () => {
      if (subscription.received.some((m) => Number(m.id) >= last)) return "delivered";
      const ended = await Promise.race([subscription.finished, sleep(10).then(() => "open")]);
      return ended === "open" ? undefined : ended;
    });
    if (outcome !== "delivered") {
      assert.ok(
        outcome instanceof ConnectError && outcome.code === Code.DataLoss,
        `${subject}: stream ended with ${String(outcome)}`,
      );
      lost.push(subject);
      continue;
    }
    const got = subscription.received.map((m) => ({ id: Number(m.id), body: text(m.body) }));
    assert.deepEqual(
      got.map((m) => m.id),
      Array.from({ length: got.length }, (_, i) => i + 1),
      `${subject}: ids 1..n in order, none twice, none skipped`,
    );
    assert.equal(new Set(got.map((m) => m.body)).size, got.length, `${subject}: no message stored twice`);
    const byId = new Map(got.map((m) => [m.id, m.body]));
    for (const [id, body] of acked) assert.equal(byId.get(id), body, `${subject}: acknowledged id ${id} delivered`);
    // A delivered message that was never acknowledged is a publish whose fate was unknown (it failed with UNAVAILABLE).
    for (const m of got) {
      if (!acked.has(m.id))
        assert.ok(failedBodies.has(m.body), `${subject}: ${m.body} was neither acknowledged nor failed`);
    }
  }
  return lost;
}
