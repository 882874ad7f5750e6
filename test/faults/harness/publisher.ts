import { Code, ConnectError } from "@connectrpc/connect";
import { type BrokerClient, brokerClient, type Ports } from "../../support/clients.js";

/** One acknowledged publish: what the broker promised to keep. */
export interface Ack {
  readonly subject: string;
  readonly id: number;
  readonly key: string;
  /** When the first attempt started (its fate unknown until ackedAt). */
  readonly firstAttemptAt: number;
  readonly ackedAt: number;
}

export interface PublisherOptions {
  readonly subjects: readonly string[];
  readonly ratePerSecond: number;
  readonly ttlSeconds: number;
  /** Each call's deadline (DEADLINE_EXCEEDED past it). */
  readonly callTimeoutMs: number;
  /** How long one message is retried (same idempotency key) before it is given up. */
  readonly retryForMs: number;
  /** Body size in bytes; the body starts with the key. */
  readonly bodyBytes: number;
  /** Parallel connections (so several gateway workers get traffic). */
  readonly connections: number;
}

/**
 * Answers after which the publish's fate is unknown, so it is retried with the
 * same key: UNAVAILABLE and DEADLINE_EXCEEDED from the gateway, and what
 * connect-node reports when the connection fails under a call (a gateway
 * process killed or draining): ABORTED (ECONNRESET), CANCELED (RST_STREAM
 * CANCEL, GOAWAY), INTERNAL with an HTTP/2 error (REFUSED_STREAM), UNKNOWN.
 */
function retryable(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return true;
  switch (err.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Aborted:
    case Code.Canceled:
    case Code.Unknown:
      return true;
    case Code.Internal:
      return /NGHTTP2|stream closed|socket/i.test(err.rawMessage);
    default:
      return false;
  }
}

const MAX_IN_FLIGHT = 600;

/**
 * A constant-rate publisher: every 10 ms it starts the publishes that are due,
 * round-robin over the subjects, each with its own idempotency key and retried
 * with that same key (backoff 50 ms doubling to 1 s, jittered) while its fate
 * is unknown (see retryable), for at most retryForMs. At most MAX_IN_FLIGHT
 * messages are open at once; what falls due beyond that is not published.
 * Records every acknowledged (subject, id, key), every failed attempt and how
 * long calls took, so the checker can count what was promised and when
 * publishing was impossible.
 */
export class Publisher {
  readonly acks: Ack[] = [];
  /** Attempts that failed: when they started, when they ended, and the code. */
  readonly failures: { key: string; start: number; end: number; code: string }[] = [];
  /** Completed attempts (ok or not) with their start and end, for the outage windows. */
  readonly attempts: { start: number; end: number; ok: boolean }[] = [];
  /** Messages given up after retryForMs, and those refused with a non-retryable code. */
  gaveUp = 0;
  rejected: string[] = [];
  /** Ticks that found MAX_IN_FLIGHT calls open and did not start more. */
  throttled = 0;
  longestCallMs = 0;
  private readonly clients: BrokerClient[];
  private sequence = 0;
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  startedAt = 0;
  private issued = 0;

  constructor(
    ports: Ports,
    private readonly runId: string,
    private readonly options: PublisherOptions,
  ) {
    this.clients = Array.from({ length: options.connections }, () => brokerClient(ports, "grpc"));
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), 10);
  }

  /** Stops starting publishes and waits for those in flight (their retries included). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }

  get published(): number {
    return this.issued;
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.ratePerSecond) - this.issued;
    for (let i = 0; i < due; i++) {
      if (this.inFlight.size >= MAX_IN_FLIGHT) {
        this.throttled += 1;
        // Skip what is due rather than pile it up: the rate is an upper bound.
        this.issued += due - i;
        return;
      }
      this.issued += 1;
      const task = this.publishOne(this.sequence++);
      this.inFlight.add(task);
      void task.finally(() => this.inFlight.delete(task));
    }
  }

  private async publishOne(sequence: number): Promise<void> {
    const subject = this.options.subjects[sequence % this.options.subjects.length] as string;
    const key = `${this.runId}-${sequence}`;
    const body = Buffer.alloc(Math.max(this.options.bodyBytes, key.length), " ");
    body.write(key, "utf8");
    const client = this.clients[sequence % this.clients.length] as BrokerClient;
    const firstAttemptAt = Date.now();
    const giveUpAt = firstAttemptAt + this.options.retryForMs;
    for (let attempt = 0; ; attempt++) {
      const start = Date.now();
      try {
        const { id } = await client.publish(
          { subject, body, expirationSeconds: this.options.ttlSeconds, idempotencyKey: key },
          { timeoutMs: this.options.callTimeoutMs },
        );
        const end = Date.now();
        this.record(start, end, true);
        this.acks.push({ subject, id: Number(id), key, firstAttemptAt, ackedAt: end });
        return;
      } catch (err) {
        const end = Date.now();
        this.record(start, end, false);
        const code = err instanceof ConnectError ? err.code : Code.Unknown;
        this.failures.push({ key, start, end, code: Code[code] });
        if (!retryable(err)) {
          this.rejected.push(`${key}: ${String(err)}`);
          return;
        }
        if (end > giveUpAt) {
          this.gaveUp += 1;
          return;
        }
        // Exponential backoff with jitter, so a gateway coming back is not met by a retry storm.
        const backoff = Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random());
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  private record(start: number, end: number, ok: boolean): void {
    this.attempts.push({ start, end, ok });
    this.longestCallMs = Math.max(this.longestCallMs, end - start);
  }
}

/** Extracts the idempotency key a body starts with. */
export function keyOf(body: Uint8Array): string {
  return Buffer.from(body).toString("utf8").trimEnd();
}
