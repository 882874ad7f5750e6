import type { Redis } from "ioredis";
import { patchEnabled } from "./index.js";

/**
 * Patch: ioredis 6.0.0, undocumented behaviour: once a connection is "ready",
 * sendCommand writes each command to its socket (`connection.stream`)
 * synchronously, one write() each.
 *
 * Runs `send`, which issues commands on `connection` synchronously, with the
 * connection's socket corked, so the commands leave in one write (writev)
 * instead of one syscall each. This is the batching ioredis auto-pipelining
 * gives, without its cost: a Pipeline object per turn (with its own hidden
 * class, which V8 keeps until a full GC along with everything it references),
 * a second setImmediate hop, and a wait for the previous pipeline's replies
 * before the next one is written.
 *
 * Measured 2026-12-03 (npm run bench:patches, RedisEngine appends in process,
 * 256 in flight, off/on/off/on): 11.0-15.1 us of CPU per append against
 * 14.4-20.7 us (auto-pipelining), ratio 0.74. Shape test: test/patches.test.ts.
 * Off: ioredis's public `enableAutoPipelining` does the batching instead.
 */
export function corkedSocketBatching(): boolean {
  return patchEnabled("ioredis-corked-socket");
}

export function corked(connection: Redis, send: () => void): void {
  const socket = connection.status === "ready" ? connection.stream : undefined;
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

/** Sends a turn's commands in one write: corked when the patch is on, else as the connection's own pipelining sends them. */
export function sendInOneWrite(connection: Redis, send: () => void): void {
  if (corkedSocketBatching()) corked(connection, send);
  else send();
}
