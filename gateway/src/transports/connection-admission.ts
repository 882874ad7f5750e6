import type net from "node:net";
import type { ConnectionLimiter } from "../limits/connection-limiter.js";
import { DeadlineSweep } from "../limits/deadline-sweep.js";
import type { LimitsObserver } from "../limits/observer.js";

export type Listener = "grpc" | "http";

/**
 * Where each accepted TCP connection of both ports starts: it is counted
 * against MAX_CONNECTIONS (or refused, for the caller to answer), and closed
 * if it has made no request within HANDSHAKE_TIMEOUT_MS: a client that
 * connects and sends nothing, or a partial preface or request head, holds a
 * socket and memory for nothing. The transports report a connection's first
 * request by its peer address and port, which both servers know.
 */
export class ConnectionAdmission {
  private readonly waiting = new Map<string, net.Socket>();
  private readonly handshakes: DeadlineSweep<string>;
  private readonly open: Record<Listener, number> = { grpc: 0, http: 0 };

  constructor(
    private readonly limiter: ConnectionLimiter,
    handshakeTimeoutMs: number,
    private readonly observer: LimitsObserver,
  ) {
    this.handshakes = new DeadlineSweep(handshakeTimeoutMs, (key) => {
      const socket = this.waiting.get(key);
      this.waiting.delete(key);
      if (!socket) return;
      observer.stalled("handshake");
      socket.destroy();
    });
  }

  /** Open connections per listener (a gauge). */
  openConnections(listener: Listener): number {
    return this.open[listener];
  }

  /** Counts `socket` and starts its handshake deadline; false: the process is full, refuse it. */
  admit(socket: net.Socket, listener: Listener): boolean {
    const release = this.limiter.tryOpen();
    if (!release) {
      this.observer.refused("connections");
      return false;
    }
    this.open[listener] += 1;
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    this.waiting.set(key, socket);
    this.handshakes.add(key);
    socket.once("close", () => {
      release();
      this.open[listener] -= 1;
      if (this.waiting.get(key) === socket) {
        this.waiting.delete(key);
        this.handshakes.delete(key);
      }
    });
    return true;
  }

  /** A connection made a request: it is past its handshake. Cheap when no connection is waiting. */
  requestSeen(remoteAddress: string | undefined, remotePort: number | undefined): void {
    if (this.waiting.size === 0) return;
    const key = peerKey(remoteAddress, remotePort);
    if (this.waiting.delete(key)) this.handshakes.delete(key);
  }

  /** Refusal messages name the limit. */
  get refusalMessage(): string {
    return (
      `connection limit: this gateway process already serves ${this.limiter.max} connections ` +
      "(MAX_CONNECTIONS); retry later or on another instance"
    );
  }

  close(): void {
    this.handshakes.close();
  }
}

export function peerKey(remoteAddress: string | undefined, remotePort: number | undefined): string {
  return `${remoteAddress}:${remotePort}`;
}
