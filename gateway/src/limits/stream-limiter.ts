import { resourceExhausted } from "../core/errors.js";

export interface StreamLimits {
  /** Concurrent Subscribe streams one connection may hold. */
  readonly perConnection: number;
  /** Concurrent Subscribe streams in this process. */
  readonly perProcess: number;
}

export type StreamLimitName = "subscribe_streams_per_connection" | "subscribe_streams_per_process";

/**
 * Counts open Subscribe streams per connection and per process. A connection
 * is an opaque key the transport supplies (its peer address and port).
 * `open` either counts the stream and returns its release (idempotent), or
 * throws RESOURCE_EXHAUSTED naming the limit.
 */
export class StreamLimiter {
  private readonly perConnection = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: StreamLimits,
    private readonly refused: (limit: StreamLimitName) => void = () => {},
  ) {}

  get count(): number {
    return this.total;
  }

  open(connection: string): () => void {
    if (this.total >= this.limits.perProcess) {
      this.refused("subscribe_streams_per_process");
      throw resourceExhausted(
        `this gateway process already serves ${this.limits.perProcess} Subscribe streams ` +
          "(MAX_SUBSCRIBE_STREAMS); retry later or on another instance",
      );
    }
    const count = this.perConnection.get(connection) ?? 0;
    if (count >= this.limits.perConnection) {
      this.refused("subscribe_streams_per_connection");
      throw resourceExhausted(
        `this connection already has ${this.limits.perConnection} Subscribe streams open ` +
          "(MAX_SUBSCRIBE_STREAMS_PER_CONNECTION); close one or open another connection",
      );
    }
    this.perConnection.set(connection, count + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.perConnection.get(connection) ?? 1) - 1;
      if (left > 0) this.perConnection.set(connection, left);
      else this.perConnection.delete(connection);
    };
  }
}
