/**
 * One system the side-by-side runs measure (the gateway on Redis, or NATS
 * JetStream with memory or file storage), behind the few operations the
 * scenarios need, so every scenario is written once and runs the same work
 * on each system. Ids are the system's own per-subject position: the
 * gateway's message id, a JetStream stream sequence.
 */
export interface Peer {
  /** Label in results and the report, e.g. "gateway (Redis)", "JetStream memory". */
  readonly target: string;
  /** Processes whose CPU counts as this system's server CPU (the gateway counts its Redis). */
  readonly cpuPids: readonly number[];
  /** Makes `subject` ready to take messages (JetStream: its stream); idempotent per subject. */
  prepare(subject: string): Promise<void>;
  /** A publishing client over `connections` connections. */
  publisher(connections: number): PeerPublisher;
  /** A subscribing client over `connections` connections. */
  subscribers(connections: number): PeerSubscribers;
  close(): Promise<void>;
}

export interface PeerPublisher {
  /** Publishes one stored message and resolves with its id once the system acknowledged it. */
  publish(subject: string, body: Uint8Array): Promise<number>;
  /** Publishes the bodies in order; resolves with their ids once all are acknowledged. */
  publishBatch(subject: string, bodies: readonly Uint8Array[]): Promise<number[]>;
  close(): Promise<void>;
}

export interface PeerSubscription {
  cancel(): void;
}

export interface PeerSubscribers {
  /**
   * Follows `subject`: every message after `afterId` (default: the subject's
   * last id when the call resolves) in id order, then live. `onEnd` hears of a
   * stream the system ended while it was followed.
   */
  subscribe(
    subject: string,
    onMessage: (body: Uint8Array, id: number) => void,
    onEnd: (err: Error) => void,
    afterId?: number,
  ): Promise<PeerSubscription>;
  close(): Promise<void>;
}
