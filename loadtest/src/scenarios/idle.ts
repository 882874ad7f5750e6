import { Redis } from "ioredis";
import { BrokerChannels } from "../grpc-client.js";
import { sleep, waitUntil } from "../load.js";
import { connectedLocalPorts, processRssBytes } from "../proc.js";
import { progress } from "../progress.js";
import type { BenchContext, ScenarioResult } from "../results.js";
import type { ServerProcess } from "../servers.js";

const MiB = 1024 * 1024;

/**
 * Redis connections the process holds, counted the way Redis sees them:
 * entries of CLIENT LIST whose address is one of the process's sockets.
 */
export async function redisConnectionsOf(pid: number, redisUrl: string): Promise<number> {
  const url = new URL(redisUrl);
  const ports = new Set(connectedLocalPorts(pid, Number(url.port || 6379)));
  const redis = new Redis(redisUrl, { protocol: 2 });
  try {
    const list = (await redis.client("LIST")) as string;
    let count = 0;
    for (const line of list.split("\n")) {
      const match = / addr=[^ ]*:(\d+) /.exec(` ${line}`);
      if (match && ports.has(Number(match[1]))) count += 1;
    }
    return count;
  } finally {
    redis.disconnect();
  }
}

/**
 * Many idle subscriptions on one gateway process: RSS growth per
 * subscription and the Redis connections it holds. Afterwards one message per
 * subject must reach every subscription (none missing).
 */
export async function idleScenario(ctx: BenchContext, server: ServerProcess, target: string): Promise<ScenarioResult> {
  const pid = server.pid;
  if (pid === undefined) {
    return { scenario: "idle-subscribers", target, status: "not available", note: "needs a local server process" };
  }
  const subscriptions = ctx.smoke ? 200 : 10_000;
  const subjects = ctx.smoke ? 20 : 1_000;
  const channels = new BrokerChannels(server.address, ctx.smoke ? 2 : 20);
  const publisher = new BrokerChannels(server.address, 1);
  const received = new Uint32Array(subscriptions);
  const streams: { cancel: () => void }[] = [];
  let streamErrors = 0;
  try {
    await sleep(200);
    const rssBefore = processRssBytes(pid);
    for (let i = 0; i < subscriptions; i += 200) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(200, subscriptions - i) }, (_, k) => {
          const n = i + k;
          return channels.subscribeBodies(
            `bench-idle-${ctx.runId}-${n % subjects}`,
            () => {
              received[n] = (received[n] ?? 0) + 1;
            },
            (err) => {
              if (err) streamErrors += 1;
            },
          );
        }),
      );
      streams.push(...opened);
      progress.update(`idle ${target}: ${streams.length}/${subscriptions} subscribed`);
    }
    await sleep(ctx.smoke ? 200 : 2_000);
    const rssAfter = processRssBytes(pid);
    const redisConnections = target === "memory" ? 0 : await redisConnectionsOf(pid, ctx.redisUrl);
    // Every subscription must still be live: one message per subject reaches each.
    for (let s = 0; s < subjects; s += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, subjects - s) }, (_, k) =>
          publisher.publish({
            subject: `bench-idle-${ctx.runId}-${s + k}`,
            body: new Uint8Array(16),
            expirationSeconds: 0,
            idempotencyKey: "",
          }),
        ),
      );
    }
    await waitUntil(() => received.every((n) => n >= 1), 10_000, 50);
    const lost = received.reduce((sum, n) => sum + (n === 0 ? 1 : 0), 0);
    const duplicates = received.reduce((sum, n) => sum + (n > 1 ? n - 1 : 0), 0);
    const problems = [
      lost && `${lost} subscriptions missed their message`,
      duplicates && `${duplicates} duplicates`,
      streamErrors && `${streamErrors} streams failed`,
    ].filter(Boolean);
    return {
      scenario: "idle-subscribers",
      target,
      status: lost || duplicates || streamErrors ? "failed" : "ok",
      ...(problems.length ? { note: problems.join("; ") } : {}),
      lost,
      extra: {
        subscriptions,
        subjects,
        rssMiB: rssAfter / MiB,
        rssBeforeMiB: rssBefore / MiB,
        rssPerSubscriptionKiB: (rssAfter - rssBefore) / 1024 / subscriptions,
        redisConnections,
      },
    };
  } finally {
    for (const stream of streams) stream.cancel();
    await sleep(100);
    channels.close();
    publisher.close();
  }
}
