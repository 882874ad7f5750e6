import { Broker as BrokerService } from "../gen/broker/broker_pb.js";
import type { GatewayConfig } from "./config.js";
import { Broker } from "./core/broker.js";
import type { Engine } from "./core/engine.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { ArchiveBackedEngine } from "./engines/archive/archive-backed-engine.js";
import { ArchiveStore, DEFAULT_ARCHIVE_STORE_OPTIONS } from "./engines/archive/archive-store.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine, type RedisEngineOptions } from "./engines/redis/redis-engine.js";
import { connectTelemetryInterceptor } from "./observability/connect-telemetry.js";
import { GatewayMetrics } from "./observability/gateway-metrics.js";
import { healthService, healthServiceDefinition } from "./observability/grpc-health.js";
import { grpcInstrumentation } from "./observability/grpc-telemetry.js";
import { handleHealthRequest } from "./observability/health-http.js";
import { HealthState } from "./observability/health-state.js";
import { RpcTelemetry } from "./observability/rpc-telemetry.js";
import { tracingEnabled } from "./process/tracing-env.js";
import { connectHandler } from "./transports/connect/connect-handler.js";
import { DualProtocolServer } from "./transports/connect/http-server.js";
import { notFound } from "./transports/connect/not-found.js";
import { loadConsoleAssets } from "./transports/console/console-assets.js";
import { consoleHandler } from "./transports/console/console-handler.js";
import { GrpcServer } from "./transports/grpc/grpc-server.js";

/** Room for the other request fields (subject, framing) beyond the largest body. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

/** How long a draining gateway refuses calls with UNAVAILABLE before closing its ports. */
const DRAIN_GRACE_MS = 250;

export function createEngine(config: GatewayConfig, instrument?: RedisEngineOptions["instrument"]): Engine {
  if (!config.redisUrl && !config.redisClusterNodes) {
    return new MemoryEngine({
      ...DEFAULT_MEMORY_OPTIONS,
      maxRetainedBytes: config.memoryMaxBytes,
      maxMessagesPerSubject: config.memoryMaxMessagesPerSubject,
    });
  }
  const archive = config.databaseUrl
    ? new ArchiveStore({ ...DEFAULT_ARCHIVE_STORE_OPTIONS, url: config.databaseUrl })
    : undefined;
  const redis = new RedisEngine({
    ...DEFAULT_REDIS_OPTIONS,
    ...(config.redisClusterNodes ? { clusterNodes: config.redisClusterNodes } : { url: config.redisUrl }),
    keyPrefix: config.redisKeyPrefix,
    maxLenPerSubject: config.redisMaxLenPerSubject,
    readerConnections: config.redisReaderConnections,
    minReplicasAck: config.redisMinReplicasAck,
    // A stream created (new subject, or lost by Redis) continues above the archive's ids.
    ...(archive ? { idFloor: (subject: string) => archive.lastId(subject) } : {}),
    instrument,
  });
  return archive ? new ArchiveBackedEngine(redis, archive) : redis;
}

export interface GatewayObservability {
  /** Where the gateway counts (a fresh registry by default). */
  readonly metrics?: GatewayMetrics;
  /** Spans per RPC (default: when the OTEL_* variables ask for traces). */
  readonly tracing?: boolean;
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
  ) {}

  static async start(
    config: GatewayConfig,
    storage?: Engine,
    observability: GatewayObservability = {},
  ): Promise<Gateway> {
    const metrics = observability.metrics ?? new GatewayMetrics();
    const engine = storage ?? createEngine(config, metrics.instrumentRedis);
    const telemetry = new RpcTelemetry(metrics, observability.tracing ?? tracingEnabled());
    // Open the ports only once storage answers: the fail-fast Redis client
    // would otherwise refuse the first calls with UNAVAILABLE while it connects.
    await engine.ready();
    const broker = new Broker(engine, {
      observer: metrics.brokerObserver,
      limits: { maxSubjectBytes: config.maxSubjectBytes, maxBodyBytes: config.maxBodyBytes },
      maxBatchMessages: config.maxBatchMessages,
      idempotencyWindowMs: config.idempotencyWindowSeconds * 1000,
      subscriptions: {
        ...DEFAULT_SUBSCRIPTION_OPTIONS,
        maxBufferedBytes: config.subscriberBufferBytes,
        maxBufferedMessages: config.subscriberBufferMessages,
      },
    });
    // At least room for the largest body, so an oversized one gets the broker's precise error.
    const maxReceiveMessageBytes = Math.max(config.maxRequestBytes, config.maxBodyBytes + REQUEST_OVERHEAD_BYTES);
    const health = new HealthState(engine, broker);
    const pages = config.console ? consoleHandler(await loadConsoleAssets(), notFound) : notFound;
    metrics.observe({
      activeSubscriptions: () => broker.subscriptionCount,
      subscribedSubjects: () => broker.subscribedSubjectCount,
      ready: () => health.readiness().ready,
    });
    const grpcTelemetry = grpcInstrumentation(telemetry);
    const grpc = new GrpcServer(broker, {
      host: config.host,
      port: config.grpcPort,
      maxReceiveMessageBytes,
      interceptors: grpcTelemetry.interceptors,
      wrapHandlers: grpcTelemetry.wrap,
      extraServices: [
        { definition: healthServiceDefinition, implementation: healthService(health, [BrokerService.typeName]) },
      ],
    });
    const http = new DualProtocolServer(
      connectHandler(broker, {
        maxReceiveMessageBytes,
        interceptors: [connectTelemetryInterceptor(telemetry)],
        // Paths the broker's routes do not match: health, the web console (unless CONSOLE=off), else 404.
        fallback: (request, response) => {
          if (handleHealthRequest(health, request, response)) return;
          pages(request, response);
        },
      }),
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
  }
}
