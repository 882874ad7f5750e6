import type { Cluster, Redis } from "ioredis";

/**
 * Runs `send`, which issues commands on `connection` synchronously, with the
 * connection's socket corked, so the commands leave in one write (writev)
 * instead of one syscall each. This is the batching ioredis auto-pipelining
 * gave, without its cost: a Pipeline object per turn (with its own hidden
 * class, which V8 keeps until a full GC along with everything it references),
 * a second setImmediate hop, and a wait for the previous pipeline's replies
 * before the next one is written. A Cluster client writes to many nodes; its
 * auto-pipelining groups a turn's commands per node instead.
 */
export function corked(connection: Redis | Cluster, send: () => void): void {
  const socket = connection.status === "ready" && "stream" in connection ? connection.stream : undefined;
  if (!socket) {
    send();
    return;
  }
  socket.cork();
  try {
    send();
  } finally {
    socket.uncork();
  }
}
