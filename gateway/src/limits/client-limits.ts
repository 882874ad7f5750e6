import { ConnectionLimiter } from "./connection-limiter.js";
import { DeadlineSweep } from "./deadline-sweep.js";
import { type LimitsObserver, NO_LIMITS_OBSERVER } from "./observer.js";
import { PublishRateLimiter } from "./publish-rate.js";
import { StreamLimiter } from "./stream-limiter.js";

/** What a network client may hold and do; README and docs/security.md list the variables. */
export interface ClientLimitsConfig {
  /** Open connections per process, both ports together (MAX_CONNECTIONS). */
  readonly maxConnections: number;
  readonly maxSubscribeStreamsPerConnection: number;
  readonly maxSubscribeStreams: number;
  /** Messages per second per principal; 0: no limit (PUBLISH_RATE_LIMIT). */
  readonly publishRateLimit: number;
  readonly publishBurst: number;
  /** A connection that has made no request this long after it opened is closed. */
  readonly handshakeTimeoutMs: number;
  /** A request whose message has not fully arrived this long after it began is ended. */
  readonly requestReadTimeoutMs: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimitsConfig = {
  maxConnections: 10_000,
  maxSubscribeStreamsPerConnection: 1_000,
  maxSubscribeStreams: 100_000,
  publishRateLimit: 0,
  publishBurst: 0,
  handshakeTimeoutMs: 10_000,
  requestReadTimeoutMs: 30_000,
};

/** Reads a connection's request-stall deadlines: something that can be ended. */
export interface StalledRequest {
  stall(): void;
}

/**
 * The limits of one gateway process, shared by both transports: each
 * transport asks these before it hands a call to the broker, and turns the
 * RESOURCE_EXHAUSTED they throw into its status like any broker error.
 */
export class ClientLimits {
  readonly connections: ConnectionLimiter;
  readonly streams: StreamLimiter;
  readonly publishRate: PublishRateLimiter;
  /** Requests whose message is still arriving; ended when overdue. */
  readonly pendingRequests: DeadlineSweep<StalledRequest>;

  constructor(
    readonly config: ClientLimitsConfig,
    readonly observer: LimitsObserver = NO_LIMITS_OBSERVER,
  ) {
    this.connections = new ConnectionLimiter(config.maxConnections);
    this.streams = new StreamLimiter(
      { perConnection: config.maxSubscribeStreamsPerConnection, perProcess: config.maxSubscribeStreams },
      (limit) => observer.refused(limit),
    );
    this.publishRate = new PublishRateLimiter({
      messagesPerSecond: config.publishRateLimit,
      burst: config.publishBurst,
    });
    this.pendingRequests = new DeadlineSweep(config.requestReadTimeoutMs, (request) => {
      observer.stalled("request");
      request.stall();
    });
  }

  /** Takes `count` publish tokens for `principal`; throws RESOURCE_EXHAUSTED (counted) when out. */
  takePublish(principal: string, count: number): void {
    if (!this.publishRate.enabled) return;
    try {
      this.publishRate.take(principal, count);
    } catch (err) {
      this.observer.refused("publish_rate");
      throw err;
    }
  }

  close(): void {
    this.pendingRequests.close();
  }
}
