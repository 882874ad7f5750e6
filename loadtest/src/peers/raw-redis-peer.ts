import { Redis } from "ioredis";
import type { Peer, PeerPublisher, PeerSubscribers, PeerSubscription } from "./peer.js";
import type { PrivateServer } from "./private-servers.js";

const MAXLEN = 200_000;
/** Entries one XREAD returns at most: the gateway's subscriber buffer. */
const READ_COUNT = 1_000;

/**
 * The floor under the gateway: what its Redis engine does per message, sent
 * straight to the same private Redis from the load client — XADD with an
 * auto-sequenced id (`0-*`, as the gateway), and a blocking XREAD loop per
 * subscriber on a connection of its own. No gateway process, so server CPU is
 * Redis's alone. Not for fan-out (one blocking connection per subscriber).
 */
export function rawRedisPeer(redis: PrivateServer): Peer {
  const clients: Redis[] = [];
  const open = (name: string, autoPipelining: boolean) => {
    const client = new Redis(redis.url, {
      protocol: 2,
      enableAutoPipelining: autoPipelining,
      connectionName: name,
      maxRetriesPerRequest: 1,
    });
    clients.push(client);
    return client;
  };
  return {
    target: "raw Redis (XADD / XREAD)",
    cpuPids: [redis.pid],
    prepare: async () => {},
    publisher: (connections) => publisher(Array.from({ length: connections }, () => open("bench-raw-xadd", true))),
    subscribers: () => subscribers(() => open("bench-raw-xread", false)),
    close: async () => {
      for (const client of clients) client.disconnect();
    },
  };
}

function key(subject: string): string {
  return `bench:raw-peer:${subject}`;
}

function idOf(entryId: string): number {
  return Number(entryId.slice(entryId.indexOf("-") + 1));
}

function publisher(connections: Redis[]): PeerPublisher {
  let next = 0;
  const pick = () => connections[next++ % connections.length] as Redis;
  const xadd = (redis: Redis, subject: string, body: Uint8Array) =>
    redis.xadd(
      key(subject),
      "MAXLEN",
      "~",
      MAXLEN,
      "0-*",
      "b",
      Buffer.from(body.buffer, body.byteOffset, body.byteLength),
    );
  return {
    publish: async (subject, body) => idOf((await xadd(pick(), subject, body)) ?? "0-0"),
    // One connection, auto-pipelined: the 100 XADDs leave in one write.
    publishBatch: async (subject, bodies) => {
      const redis = pick();
      const ids = await Promise.all(bodies.map((body) => xadd(redis, subject, body)));
      return ids.map((id) => idOf(id ?? "0-0"));
    },
    close: async () => {
      for (const redis of connections) redis.disconnect();
    },
  };
}

function subscribers(open: () => Redis): PeerSubscribers {
  const following = new Set<Redis>();
  return {
    subscribe: async (subject, onMessage, onEnd, afterId): Promise<PeerSubscription> => {
      const redis = open();
      following.add(redis);
      let last = afterId ?? idOf((await redis.xrevrange(key(subject), "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0");
      let cancelled = false;
      const loop = async () => {
        while (!cancelled) {
          const reply = await redis.xreadBuffer(
            "COUNT",
            READ_COUNT,
            "BLOCK",
            1_000,
            "STREAMS",
            key(subject),
            `0-${last}`,
          );
          for (const [, entries] of reply ?? []) {
            for (const [id, fields] of entries) {
              last = idOf(id.toString());
              onMessage(fields[1] as Buffer, last);
            }
          }
        }
      };
      loop().catch((err: unknown) => {
        if (!cancelled) onEnd(err instanceof Error ? err : new Error(String(err)));
      });
      return {
        cancel: () => {
          cancelled = true;
          following.delete(redis);
          redis.disconnect();
        },
      };
    },
    close: async () => {
      for (const redis of following) redis.disconnect();
    },
  };
}
