import { Broker as BrokerService } from "../gen/broker/broker_pb.js";
import { authenticator as createAuthenticator } from "./auth/authenticator.js";
import type { GatewayConfig } from "./config.js";
import { Broker } from "./core/broker.js";
import type { Engine } from "./core/engine.js";
import type { Log } from "./core/log.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { ArchiveBackedEngine } from "./engines/archive/archive-backed-engine.js";
import { ArchiveStore, DEFAULT_ARCHIVE_STORE_OPTIONS } from "./engines/archive/archive-store.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine, type RedisEngineOptions } from "./engines/redis/redis-engine.js";
import { ClientLimits } from "./limits/client-limits.js";
import { connectTelemetryInterceptor } from "./observability/connect-telemetry.js";
import { GatewayMetrics } from "./observability/gateway-metrics.js";
import { GrpcHealth } from "./observability/grpc-health.js";
import { grpcInstrumentation } from "./observability/grpc-telemetry.js";
import { handleHealthRequest } from "./observability/health-http.js";
import { HealthState } from "./observability/health-state.js";
import { RpcTelemetry } from "./observability/rpc-telemetry.js";
import { defaultLogger } from "./process/logger.js";
import { tracingEnabled } from "./process/tracing-env.js";
import { connectHandler } from "./transports/connect/connect-handler.js";
import { DualProtocolServer } from "./transports/connect/http-server.js";
import { notFound } from "./transports/connect/not-found.js";
import { ConnectionAdmission } from "./transports/connection-admission.js";
import { ConnectionRefusal } from "./transports/connection-refusal.js";
import { loadConsoleAssets } from "./transports/console/console-assets.js";
import { consoleHandler } from "./transports/console/console-handler.js";
import { GrpcServer } from "./transports/grpc/grpc-server.js";

/** Room for the other request fields (subject, framing) beyond the largest body. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

/** How long a draining gateway refuses calls with UNAVAILABLE before closing its ports. */
const DRAIN_GRACE_MS = 250;

export function createEngine(
  config: GatewayConfig,
  instrument?: RedisEngineOptions["instrument"],
  log: Log = defaultLogger(),
  now: () => number = Date.now,
): Engine {
  if (!config.redisUrl) {
    return new MemoryEngine({
      ...DEFAULT_MEMORY_OPTIONS,
      now,
      maxRetainedBytes: config.memoryMaxBytes,
      maxMessagesPerSubject: config.memoryMaxMessagesPerSubject,
      maxSubjects: config.maxSubjects,
      sweepIntervalMs: config.redisSweepIntervalMs,
    });
  }
  const archive = config.databaseUrl
    ? new ArchiveStore({ ...DEFAULT_ARCHIVE_STORE_OPTIONS, url: config.databaseUrl, log })
    : undefined;
  const redis = new RedisEngine({
    ...DEFAULT_REDIS_OPTIONS,
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    maxLenPerSubject: config.redisMaxLenPerSubject,
    readerConnections: config.redisReaderConnections,
    maxSubjects: config.maxSubjects,
    sweepIntervalMs: config.redisSweepIntervalMs,
    // A stream created (new subject, or lost by Redis) continues above the archive's ids.
    ...(archive ? { idFloor: (subject: string) => archive.lastId(subject) } : {}),
    instrument,
    log,
  });
  return archive ? new ArchiveBackedEngine(redis, archive) : redis;
}

export interface GatewayOptions {
  /** Where the gateway counts (a fresh registry by default). */
  readonly metrics?: GatewayMetrics;
  /** Spans per RPC (default: when the OTEL_* variables ask for traces). */
  readonly tracing?: boolean;
  /** The clock expiry is judged by (tests replace it; Redis's own timers, such as idempotency windows, are not). */
  readonly now?: () => number;
  /** Where storage failures and bugs are logged (default: the process logger on stdout). */
  readonly log?: Log;
}

/** A running gateway: the broker and both transports, wired together. */
export class Gateway {
  private constructor(
    readonly broker: Broker,
    readonly engine: Engine,
    private readonly grpc: GrpcServer,
    private readonly http: DualProtocolServer,
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly shutdownTimeoutMs: number,
    readonly metrics: GatewayMetrics,
    readonly health: HealthState,
    private readonly drainDelayMs: number,
    private readonly network: { limits: ClientLimits; admission: ConnectionAdmission; refusal: ConnectionRefusal },
  ) {}

  static async start(config: GatewayConfig, storage?: Engine, options: GatewayOptions = {}): Promise<Gateway> {
    const metrics = options.metrics ?? new GatewayMetrics();
    const now = options.now ?? Date.now;
    const log = options.log ?? defaultLogger();
    const engine = storage ?? createEngine(config, metrics.instrumentRedis, log, now);
    const telemetry = new RpcTelemetry(metrics, options.tracing ?? tracingEnabled());
    // Open the ports only once storage answers: the fail-fast Redis client
    // would otherwise refuse the first calls with UNAVAILABLE while it connects.
    await engine.ready();
    const broker = new Broker(engine, {
      now,
      observer: metrics.brokerObserver,
      log,
      limits: { maxSubjectBytes: config.maxSubjectBytes, maxBodyBytes: config.maxBodyBytes },
      maxBatchMessages: config.maxBatchMessages,
      idempotencyWindowMs: config.idempotencyWindowSeconds * 1000,
      subscriptions: {
        ...DEFAULT_SUBSCRIPTION_OPTIONS,
        maxBufferedBytes: config.subscriberBufferBytes,
        maxBufferedMessages: config.subscriberBufferMessages,
        giveUpAfterMs: config.subscriberStorageTimeoutMs,
      },
    });
    // At least room for the largest body, so an oversized one gets the broker's precise error.
    const maxReceiveMessageBytes = Math.max(config.maxRequestBytes, config.maxBodyBytes + REQUEST_OVERHEAD_BYTES);
    const health = new HealthState(engine, broker);
    const pages = config.console ? consoleHandler(await loadConsoleAssets(), notFound) : notFound;
    const limits = new ClientLimits(config.limits, metrics.limitsObserver);
    const admission = new ConnectionAdmission(
      limits.connections,
      config.limits.handshakeTimeoutMs,
      metrics.limitsObserver,
    );
    const refusal = new ConnectionRefusal(() => admission.refusalMessage);
    const connections = { admission, refusal };
    metrics.observe({
      activeSubscriptions: () => broker.subscriptionCount,
      subscribedSubjects: () => broker.subscribedSubjectCount,
      ready: () => health.readiness().ready,
      openConnections: (listener) => admission.openConnections(listener),
    });
    const grpcTelemetry = grpcInstrumentation(telemetry);
    // One for both ports, so a token verified on one is cached for the other.
    const authenticator = createAuthenticator(config.auth);
    const grpc = new GrpcServer(broker, {
      host: config.host,
      port: config.grpcPort,
      maxReceiveMessageBytes,
      authenticator,
      interceptors: grpcTelemetry.interceptors,
      wrapHandlers: grpcTelemetry.wrap,
      log,
      extraServices: [new GrpcHealth(health, [BrokerService.typeName]).service],
      limits,
      connections,
    });
    const http = new DualProtocolServer(
      connectHandler(broker, {
        maxReceiveMessageBytes,
        authenticator,
        interceptors: [connectTelemetryInterceptor(telemetry)],
        log,
        // Paths the broker's routes do not match: health, the web console (unless CONSOLE=off), else 404.
        fallback: (request, response) => {
          if (handleHealthRequest(health, request, response)) return;
          pages(request, response);
        },
        cors: config.cors,
        allowedHosts: config.allowedHosts,
        limits,
      }),
      { ...connections, headersTimeoutMs: config.limits.handshakeTimeoutMs },
    );
    const grpcPort = await grpc.listen();
    const httpPort = await http.listen(config.httpPort, config.host);
    return new Gateway(
      broker,
      engine,
      grpc,
      http,
      grpcPort,
      httpPort,
      config.shutdownTimeoutMs,
      metrics,
      health,
      config.drainDelayMs,
      { limits, admission, refusal },
    );
  }

  /**
   * Drains: readiness turns false at once (so load balancers stop sending)
   * while calls are still served for `drainDelayMs`; then new calls get
   * UNAVAILABLE, subscriptions end normally, in-flight publishes finish, and
   * the servers and storage close.
   */
  async close(): Promise<void> {
    this.health.startDrain();
    if (this.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.drainDelayMs));
    const brokerClosed = this.broker.close(this.shutdownTimeoutMs);
    // The broker now answers UNAVAILABLE; keep the ports open a moment so
    // clients racing the shutdown get that status instead of a refused
    // HTTP/2 stream or a reset keep-alive connection.
    await new Promise((resolve) => setTimeout(resolve, Math.min(DRAIN_GRACE_MS, this.shutdownTimeoutMs)));
    await Promise.all([this.grpc.close(this.shutdownTimeoutMs), this.http.close(this.shutdownTimeoutMs), brokerClosed]);
    this.network.limits.close();
    this.network.admission.close();
    this.network.refusal.close();
  }
}
