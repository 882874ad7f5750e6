import {
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { readStamp } from "../stamp.js";
import type { Peer, PeerPublisher, PeerSubscribers, PeerSubscription } from "./peer.js";
import type { PrivateServer } from "./private-servers.js";

/** Retention per subject, as the gateway's REDIS_MAXLEN in these runs: the oldest go first. */
export const MESSAGES_PER_SUBJECT = 200_000;
/** Messages one ordered consumer pulls at a time: the gateway's default subscriber buffer (1,000). */
const PULL_BATCH = 1_000;

/**
 * NATS JetStream as the gateway's peer: one stream per subject (as the gateway
 * keeps one Redis stream per subject) with `storage` memory or file, one
 * replica, publish with ack (`js.publish`), and each subscriber an ordered
 * consumer (JetStream's ordered, gap-free, resumable read of a stream, the
 * counterpart of a gateway Subscribe) starting at a stream sequence.
 */
export async function jetStreamPeer(
  server: PrivateServer,
  storage: "memory" | "file",
  options: { coreSubscribers?: boolean } = {},
): Promise<Peer> {
  const admin = await connect({ servers: server.url, name: "bench-admin" });
  const jsm = await jetstreamManager(admin);
  // Subjects of their own per variant: no variant's subscribers see another's messages.
  const prefix = `${storage === "memory" ? "mem" : "file"}${options.coreSubscribers ? "core" : ""}`;
  const prepared = new Set<string>();
  const connections: NatsConnection[] = [admin];
  const open = async (count: number) => {
    const opened = await Promise.all(
      Array.from({ length: count }, () => connect({ servers: server.url, name: `bench-${prefix}` })),
    );
    connections.push(...opened);
    return opened;
  };
  return {
    target: `JetStream ${storage}${options.coreSubscribers ? ", core-NATS subscribers" : ""}`,
    cpuPids: [server.pid],
    prepare: async (subject) => {
      if (prepared.has(subject)) return;
      await jsm.streams.add({
        name: streamName(prefix, subject),
        subjects: [`${prefix}.${subject}`],
        storage: storage === "memory" ? StorageType.Memory : StorageType.File,
        num_replicas: 1,
        max_msgs: MESSAGES_PER_SUBJECT,
        discard: DiscardPolicy.Old,
      });
      prepared.add(subject);
    },
    publisher: (count) => publisher(open(count), prefix),
    subscribers: (count) =>
      options.coreSubscribers ? coreSubscribers(open(count), prefix) : subscribers(open(count), jsm, prefix),
    close: async () => {
      for (const subject of prepared) await jsm.streams.delete(streamName(prefix, subject)).catch(() => false);
      await Promise.all(connections.map((nc) => nc.close()));
    },
  };
}

function streamName(prefix: string, subject: string): string {
  return `${prefix}_${subject}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

function publisher(connecting: Promise<NatsConnection[]>, prefix: string): PeerPublisher {
  let clients: JetStreamClient[] | undefined;
  let next = 0;
  const pick = async () => {
    clients ??= (await connecting).map((nc) => jetstream(nc));
    return clients[next++ % clients.length] as JetStreamClient;
  };
  return {
    publish: async (subject, body) => (await (await pick()).publish(`${prefix}.${subject}`, body)).seq,
    // JetStream's async publish: every publish sent at once, their acks awaited together.
    publishBatch: async (subject, bodies) => {
      const js = await pick();
      const acks = await Promise.all(bodies.map((body) => js.publish(`${prefix}.${subject}`, body)));
      return acks.map((ack) => ack.seq);
    },
    close: async () => {
      await Promise.all((await connecting).map((nc) => nc.close()));
    },
  };
}

function subscribers(connecting: Promise<NatsConnection[]>, jsm: JetStreamManager, prefix: string): PeerSubscribers {
  let next = 0;
  return {
    subscribe: async (subject, onMessage, onEnd, afterId): Promise<PeerSubscription> => {
      const connections = await connecting;
      const js = jetstream(connections[next++ % connections.length] as NatsConnection);
      const stream = streamName(prefix, subject);
      // Like a gateway Subscribe without resume: everything after the last sequence stored now.
      const after = afterId ?? (await jsm.streams.info(stream)).state.last_seq;
      const consumer = await js.consumers.get(stream, {
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: after + 1,
      });
      const messages = await consumer.consume({
        max_messages: PULL_BATCH,
        callback: (message) => onMessage(message.data, message.seq),
      });
      let cancelled = false;
      void messages.closed().then((err) => {
        if (!cancelled) onEnd(err instanceof Error ? err : new Error("the ordered consumer stopped"));
      });
      return {
        cancel: () => {
          cancelled = true;
          messages.stop();
        },
      };
    },
    close: async () => {
      await Promise.all((await connecting).map((nc) => nc.close()));
    },
  };
}

/**
 * Plain NATS subscriptions on the stream's subject: what a NATS user would run
 * for live fan-out (no replay, no gap detection; the stream still stores every
 * message). Core NATS messages carry no stream sequence, so the id handed on
 * is the publisher's sequence number from the body (order is checked on it).
 */
function coreSubscribers(connecting: Promise<NatsConnection[]>, prefix: string): PeerSubscribers {
  let next = 0;
  return {
    subscribe: async (subject, onMessage, onEnd, afterId): Promise<PeerSubscription> => {
      if (afterId !== undefined) throw new Error("core NATS subscriptions cannot resume from an id");
      const connections = await connecting;
      const nc = connections[next++ % connections.length] as NatsConnection;
      let cancelled = false;
      const subscription = nc.subscribe(`${prefix}.${subject}`, {
        callback: (err, message) => {
          if (err) {
            if (!cancelled) onEnd(err);
            return;
          }
          onMessage(message.data, readStamp(message.data).seq + 1);
        },
      });
      // Live once the server has the subscription.
      await nc.flush();
      return {
        cancel: () => {
          cancelled = true;
          subscription.unsubscribe();
        },
      };
    },
    close: async () => {
      await Promise.all((await connecting).map((nc) => nc.close()));
    },
  };
}
