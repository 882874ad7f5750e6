import type { Cluster, Redis } from "ioredis";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BrokerObserver } from "../core/observer.js";
import { BROKER_METRICS, RPC_METRICS } from "../process/metric-names.js";
import { LabelFreeHistogram } from "./label-free-histogram.js";

export type RpcType = "unary" | "server_stream" | "client_stream" | "bidi_stream";
/** Which listener served the call: the @grpc/grpc-js port or the Connect/gRPC-Web/gRPC HTTP port. */
export type RpcTransport = "grpc" | "connect";

export interface RpcLabels {
  readonly grpc_type: RpcType;
  readonly grpc_service: string;
  readonly grpc_method: string;
  readonly transport: RpcTransport;
}

/** What the metrics read from the running gateway at scrape time. */
export interface GatewayGauges {
  activeSubscriptions(): number;
  subscribedSubjects(): number;
  ready(): boolean;
}

const RPC_LABELS = ["grpc_type", "grpc_service", "grpc_method", "transport"] as const;
/** Sub-millisecond to tens of seconds: publishes are fast, Subscribe streams are long. */
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LAG_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const REDIS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];

/**
 * The gateway's Prometheus metrics in one registry of its own (so tests can
 * run several gateways in one process, and cluster workers hand exactly this
 * registry to the primary's aggregator).
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly rpcStarted: Counter<(typeof RPC_LABELS)[number]>;
  readonly rpcHandled: Counter<(typeof RPC_LABELS)[number] | "grpc_code">;
  readonly rpcHandlingSeconds: Histogram<(typeof RPC_LABELS)[number]>;
  readonly rpcMsgSent: Counter<(typeof RPC_LABELS)[number]>;
  readonly rpcMsgReceived: Counter<(typeof RPC_LABELS)[number]>;
  private readonly published: Counter;
  private readonly delivered: Counter;
  private readonly deliveryLag: LabelFreeHistogram;
  private readonly fellBehind: Counter;
  private readonly terminated: Counter;
  private readonly redisSeconds: Histogram<"command">;
  private readonly redisErrors: Counter<"command">;
  private gauges: GatewayGauges | undefined;
  private readonly flushers: (() => void)[] = [];
  /** Deliveries not yet added to `delivered` (one per message per subscriber: the fan-out's hottest count). */
  private pendingDeliveries = 0;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const labelNames = RPC_LABELS;
    // Counts kept as plain numbers on the hot path reach their counters before any scrape reads them.
    const flush = () => {
      for (const flusher of this.flushers) flusher();
    };
    this.rpcStarted = new Counter({
      name: RPC_METRICS.started,
      help: "RPCs started on the server.",
      labelNames,
      registers,
      collect: flush,
    });
    this.rpcHandled = new Counter({
      name: RPC_METRICS.handled,
      help: "RPCs completed on the server, regardless of success or failure.",
      labelNames: [...labelNames, "grpc_code"],
      registers,
      collect: flush,
    });
    this.rpcHandlingSeconds = new Histogram({
      name: RPC_METRICS.handlingSeconds,
      help: "Time from an RPC's start to its final status, in seconds.",
      labelNames,
      buckets: RPC_BUCKETS,
      registers,
    });
    this.rpcMsgSent = new Counter({
      name: RPC_METRICS.msgSent,
      help: "Response messages sent.",
      labelNames,
      registers,
      collect: flush,
    });
    this.rpcMsgReceived = new Counter({
      name: RPC_METRICS.msgReceived,
      help: "Request messages received.",
      labelNames,
      registers,
      collect: flush,
    });
    this.published = new Counter({ name: BROKER_METRICS.published, help: "Messages stored.", registers });
    this.delivered = new Counter({
      name: BROKER_METRICS.delivered,
      help: "Messages written to subscriber streams.",
      registers,
      collect: flush,
    });
    this.beforeScrape(() => {
      if (this.pendingDeliveries > 0) this.delivered.inc(this.pendingDeliveries);
      this.pendingDeliveries = 0;
    });
    this.deliveryLag = new LabelFreeHistogram(
      BROKER_METRICS.deliveryLagSeconds,
      "Time from a message's publish to its write on a subscriber stream, in seconds.",
      LAG_BUCKETS,
      registers,
    );
    this.fellBehind = new Counter({
      name: BROKER_METRICS.subscriberFellBehind,
      help: "Live subscribers that overflowed their buffer and switched to catching up from storage.",
      registers,
    });
    this.terminated = new Counter({
      name: BROKER_METRICS.slowSubscriberTerminations,
      help: "Subscribers ended (RESOURCE_EXHAUSTED) because they fell behind retention.",
      registers,
    });
    this.redisSeconds = new Histogram({
      name: BROKER_METRICS.redisCommandSeconds,
      help: "Redis command latency on the command connection, in seconds.",
      labelNames: ["command"],
      buckets: REDIS_BUCKETS,
      registers,
    });
    this.redisErrors = new Counter({
      name: BROKER_METRICS.redisCommandErrors,
      help: "Redis commands that failed.",
      labelNames: ["command"],
      registers,
    });
    const read = (pick: (gauges: GatewayGauges) => number) =>
      function (this: Gauge) {
        this.set(metrics.gauges ? pick(metrics.gauges) : 0);
      };
    const metrics = this;
    new Gauge({
      name: BROKER_METRICS.activeSubscriptions,
      help: "Open Subscribe streams.",
      registers,
      collect: read((g) => g.activeSubscriptions()),
    });
    new Gauge({
      name: BROKER_METRICS.subscribedSubjects,
      help: "Subjects with at least one live subscriber.",
      registers,
      collect: read((g) => g.subscribedSubjects()),
    });
    new Gauge({
      name: BROKER_METRICS.ready,
      help: "1 while the gateway is ready: storage reachable and not draining.",
      registers,
      collect: read((g) => (g.ready() ? 1 : 0)),
    });
  }

  /**
   * Runs `flusher` before the counters kept as plain numbers are read (a
   * scrape, or a cluster worker's report): the RPC counts and deliveries.
   */
  beforeScrape(flusher: () => void): void {
    this.flushers.push(flusher);
  }

  /** Where the scrape-time gauges read from (the running gateway). */
  observe(gauges: GatewayGauges): void {
    this.gauges = gauges;
  }

  /** The core's observer, counting into this registry. */
  readonly brokerObserver: BrokerObserver = {
    published: (count) => this.published.inc(count),
    delivered: (message) => {
      this.pendingDeliveries += 1;
      this.deliveryLag.observe(Math.max(0, Date.now() - message.publishedAt) / 1000);
    },
    subscriberFellBehind: () => this.fellBehind.inc(),
    subscriberTerminated: () => this.terminated.inc(),
  };

  /**
   * Times every command sent on a Redis connection and counts failures. The
   * reader connections' blocking XREADs last up to their block time by design,
   * so only their errors are counted. Commands sent before the connection is
   * ready (status "connect") are ioredis's handshake and are not counted. A
   * Cluster client is instrumented as a whole (its sendCommand routes to nodes).
   */
  instrumentRedis = (client: Redis | Cluster, role: "commands" | "reader"): void => {
    // Both clients take the command first; the rest (stream, node) is passed on untouched.
    const connection = client as Redis;
    const send = connection.sendCommand.bind(connection) as (
      command: Parameters<Redis["sendCommand"]>[0],
      ...rest: unknown[]
    ) => ReturnType<Redis["sendCommand"]>;
    const timed = role === "commands";
    connection.sendCommand = (command, ...rest: unknown[]) => {
      // ioredis's own handshake (CLIENT SETINFO fails on Redis < 7.2, by design) is not ours to count.
      if (connection.status === "connect") return send(command, ...rest);
      const name = command.name.toLowerCase();
      const end = timed ? this.redisSeconds.startTimer({ command: name }) : undefined;
      command.promise.then(
        () => end?.(),
        () => {
          end?.();
          this.redisErrors.inc({ command: name });
        },
      );
      return send(command, ...rest);
    };
  };
}
