import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Ports } from "../../support/clients.js";
import { keyOf } from "./publisher.js";

export interface Delivery {
  readonly id: number;
  readonly key: string;
}

export interface GapMarker {
  readonly first: number;
  readonly last: number;
  readonly reason: string;
}

/** How one Subscribe stream ended: OK, or an error code, after which ids up to `resumedAfter` were asked again. */
export interface StreamEnd {
  readonly code: string;
  readonly message: string;
  readonly at: number;
  /** The position the subscriber held when the stream ended. */
  readonly position: number;
}

/** Codes that tell the client explicitly that messages were lost (never a silent skip). */
export const EXPLICIT_LOSS = new Set(["DataLoss", "OutOfRange", "ResourceExhausted"]);

export interface SlowReading {
  /** The subscriber stops reading for pauseMs out of every periodMs. */
  readonly pauseMs: number;
  readonly periodMs: number;
}

/**
 * A subscriber that always resumes: it subscribes with resume_after_id (the
 * last id it was given, message or Gap marker) and, whenever the stream ends
 * for any reason, subscribes again from there. After an explicit loss
 * (DATA_LOSS, OUT_OF_RANGE, RESOURCE_EXHAUSTED) it cannot resume where it
 * was, so it subscribes live and notes the discontinuity. A slow one stops
 * reading for a while, periodically, until `hurry()`.
 */
export class ResumingSubscriber {
  readonly deliveries: Delivery[] = [];
  readonly gaps: GapMarker[] = [];
  readonly ends: StreamEnd[] = [];
  /** Positions after which the subscriber had to go live (explicit loss). */
  readonly discontinuities: { after: number; resumedAt: number | undefined }[] = [];
  private readonly client: BrokerClient;
  private position = 0;
  private resumable = true;
  private stopped = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private slow: SlowReading | undefined;
  private readonly createdAt = Date.now();
  private notify: (() => void) | undefined;

  constructor(
    ports: Ports,
    readonly subject: string,
    slow?: SlowReading,
  ) {
    this.client = brokerClient(ports, "grpc");
    this.slow = slow;
  }

  get isSlow(): boolean {
    return this.slow !== undefined;
  }

  get lastPosition(): number {
    return this.position;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops pausing: from now on it reads as fast as it can. */
  hurry(): void {
    this.slow = undefined;
  }

  /** Waits until the subscriber holds every id up to `id` (delivered or in a gap), bounded in time. */
  async waitForPosition(id: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.position < id) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.abort = new AbortController();
      const resumeAfterId = this.resumable ? BigInt(this.position) : undefined;
      try {
        const stream = this.client.subscribe({ subject: this.subject, resumeAfterId }, { signal: this.abort.signal });
        for await (const message of stream) {
          await this.pauseIfSlow();
          this.take(message.id, message.body, message.gap);
        }
        this.ended("OK", "");
      } catch (err) {
        if (this.stopped) break;
        const code = err instanceof ConnectError ? Code[err.code] : "Unknown";
        this.ended(code, err instanceof ConnectError ? err.rawMessage : String(err));
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private take(id: bigint, body: Uint8Array, gap: { firstId: bigint; lastId: bigint; reason: string } | undefined) {
    const current = this.discontinuities[this.discontinuities.length - 1];
    if (current && current.resumedAt === undefined) current.resumedAt = Number(id);
    this.resumable = true;
    if (gap) {
      this.gaps.push({ first: Number(gap.firstId), last: Number(gap.lastId), reason: gap.reason });
      this.position = Math.max(this.position, Number(gap.lastId));
    } else {
      this.deliveries.push({ id: Number(id), key: keyOf(body) });
      this.position = Math.max(this.position, Number(id));
    }
    this.notify?.();
  }

  private ended(code: string, message: string): void {
    this.ends.push({ code, message, at: Date.now() - this.createdAt, position: this.position });
    if (EXPLICIT_LOSS.has(code)) {
      this.resumable = false;
      this.discontinuities.push({ after: this.position, resumedAt: undefined });
    }
  }

  private async pauseIfSlow(): Promise<void> {
    const slow = this.slow;
    if (!slow) return;
    const phase = (Date.now() - this.createdAt) % slow.periodMs;
    if (phase < slow.pauseMs) await new Promise((resolve) => setTimeout(resolve, slow.pauseMs - phase));
  }
}
