import { randomUUID } from "node:crypto";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { type BrokerClient, brokerClient, type Ports } from "../../support/clients.js";
import { check, type Findings } from "./checker.js";
import { Publisher, type PublisherOptions } from "./publisher.js";
import { ResumingSubscriber, type SlowReading } from "./subscriber.js";

/** The gateway the load runs against: its ports, and its memory sampled while the load runs. */
export interface LoadTarget extends Ports {
  sampleMemory(): void;
  readonly peakRssBytes: number;
}

export const SUBJECTS = ["orders", "payments", "audit"] as const;

/** The same modest load in every scenario: 150 msg/s over three subjects, 512-byte bodies, a 10-minute TTL. */
export const DEFAULT_LOAD: PublisherOptions = {
  subjects: SUBJECTS,
  ratePerSecond: 150,
  ttlSeconds: 600,
  callTimeoutMs: 3_000,
  retryForMs: 20_000,
  bodyBytes: 512,
  connections: 4,
};

/**
 * A scenario's traffic: one constant-rate publisher, one resuming subscriber
 * per subject, and a slow one (reads 1 s out of every 4) on the first subject.
 */
export class Load {
  readonly publisher: Publisher;
  readonly subscribers: ResumingSubscriber[];
  readonly slow: ResumingSubscriber;
  private sampler: NodeJS.Timeout | undefined;
  private readonly probe: HangProbe;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly gateway: LoadTarget,
    options: Partial<PublisherOptions> = {},
    slow: SlowReading = { pauseMs: 3_000, periodMs: 4_000 },
  ) {
    const load = { ...DEFAULT_LOAD, ...options };
    this.publisher = new Publisher(gateway, randomUUID().slice(0, 8), load);
    this.slow = new ResumingSubscriber(gateway, load.subjects[0] as string, slow);
    this.probe = new HangProbe(brokerClient(gateway, "grpc"), load.subjects[0] as string);
    this.subscribers = [...load.subjects.map((subject) => new ResumingSubscriber(gateway, subject)), this.slow];
  }

  async start(): Promise<void> {
    for (const subscriber of this.subscribers) subscriber.start();
    // Subscribers resume after id 0, so they need not be live before the first publish; a moment helps the logs.
    await sleep(300);
    this.loopDelay.enable();
    this.publisher.start();
    this.probe.start();
    this.sampler = setInterval(() => this.gateway.sampleMemory(), 500);
  }

  /**
   * Stops publishing, lets every subscriber (the slow one at full speed) catch
   * up to the last acknowledged id of its subject, then counts.
   */
  async finish(): Promise<Findings> {
    await this.publisher.stop();
    await this.probe.stop();
    this.slow.hurry();
    const last = new Map<string, number>();
    for (const ack of this.publisher.acks) last.set(ack.subject, Math.max(last.get(ack.subject) ?? 0, ack.id));
    const caughtUp = await Promise.all(
      this.subscribers.map((s) => s.waitForPosition(last.get(s.subject) ?? 0, 30_000)),
    );
    clearInterval(this.sampler);
    await Promise.all(this.subscribers.map((s) => s.stop()));
    this.loopDelay.disable();
    const findings = await check(this.gateway, this.publisher, this.subscribers, this.loopDelay.max / 1e9);
    findings.counts.slowCaughtUp = caughtUp[caughtUp.length - 1] === true ? 1 : 0;
    findings.counts.peakRssMiB = Math.round(this.gateway.peakRssBytes / 2 ** 20);
    findings.counts.longestUnboundedCallSeconds = Math.round(this.probe.longestMs / 10) / 100;
    return findings;
  }

  /** Logs a step of the scenario with its time since publishing started. */
  mark(t: { diagnostic(message: string): void }, step: string): void {
    t.diagnostic(`${((Date.now() - this.publisher.startedAt) / 1000).toFixed(1)} s: ${step}`);
  }

  /** Stops everything without counting (cleanup after a failure). */
  async abandon(): Promise<void> {
    clearInterval(this.sampler);
    this.loopDelay.disable();
    await this.publisher.stop();
    await this.probe.stop();
    await Promise.all(this.subscribers.map((s) => s.stop()));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls without a client deadline (Fetch of the first id, one at a time,
 * every 250 ms), to see whether the gateway itself ever leaves a call
 * hanging: it should answer, if only UNAVAILABLE, within its Redis command
 * timeout (2 s).
 */
class HangProbe {
  longestMs = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: BrokerClient,
    private readonly subject: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const started = Date.now();
        await this.client.fetch({ subject: this.subject, id: 1n }).catch(() => undefined);
        this.longestMs = Math.max(this.longestMs, Date.now() - started);
        await sleep(250);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
