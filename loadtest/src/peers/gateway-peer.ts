import { BrokerChannels } from "../grpc-client.js";
import { RawPublisher } from "../raw-publisher.js";
import { RawSubscriberPool } from "../raw-subscriber.js";
import type { ServerProcess } from "../servers.js";
import type { Peer, PeerPublisher, PeerSubscribers } from "./peer.js";

/** Stored for a minute, as in the other scenarios. */
const EXPIRATION_SECONDS = 60;

/**
 * The gateway (one worker) on its own Redis. Publishers use @grpc/grpc-js (what
 * a Node user would run) or, with `client: "lean-h2"`, the bench's lean HTTP/2
 * client (loadtest/src/h2/); subscribers always use the lean client, as the
 * delivery scenarios do.
 */
export function gatewayPeer(
  gateway: ServerProcess,
  redisPid: number | undefined,
  options: { target?: string; client?: "grpc-js" | "lean-h2" } = {},
): Peer {
  const client = options.client ?? "grpc-js";
  return {
    target: options.target ?? "gateway (Redis)",
    cpuPids: [gateway.pid, redisPid].filter((pid): pid is number => pid !== undefined),
    prepare: async () => {},
    publisher: (connections) =>
      client === "grpc-js"
        ? grpcJsPublisher(gateway.address, connections)
        : leanPublisher(gateway.address, connections),
    subscribers: (connections) => leanSubscribers(gateway.address, connections),
    close: async () => {},
  };
}

function grpcJsPublisher(address: string, connections: number): PeerPublisher {
  const channels = new BrokerChannels(address, connections);
  return {
    publish: async (subject, body) =>
      Number((await channels.publish({ subject, body, expirationSeconds: EXPIRATION_SECONDS, idempotencyKey: "" })).id),
    publishBatch: async (subject, bodies) => {
      const messages = bodies.map((body) => ({
        subject,
        body,
        expirationSeconds: EXPIRATION_SECONDS,
        idempotencyKey: "",
      }));
      return (await channels.publishBatch({ messages })).ids.map(Number);
    },
    close: async () => channels.close(),
  };
}

/** Unary publishes on the lean client; batches (which it does not frame) through grpc-js. */
function leanPublisher(address: string, connections: number): PeerPublisher {
  const publishers = Array.from({ length: connections }, () => new RawPublisher(address));
  let batches: PeerPublisher | undefined;
  let next = 0;
  return {
    publish: (subject, body) =>
      (publishers[next++ % publishers.length] as RawPublisher).publish(subject, body, EXPIRATION_SECONDS),
    publishBatch: (subject, bodies) => {
      batches ??= grpcJsPublisher(address, connections);
      return batches.publishBatch(subject, bodies);
    },
    close: async () => {
      for (const publisher of publishers) publisher.close();
      await batches?.close();
    },
  };
}

function leanSubscribers(address: string, connections: number): PeerSubscribers {
  const pool = new RawSubscriberPool(address, connections);
  return {
    subscribe: (subject, onMessage, onEnd, afterId) =>
      pool.subscribe(subject, onMessage, (err) => err && onEnd(err), afterId),
    close: async () => pool.close(),
  };
}
