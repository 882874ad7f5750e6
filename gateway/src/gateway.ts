import { Broker as BrokerService } from "../gen/broker/broker_pb.js";
import type { GatewayConfig } from "./config.js";
import { Broker } from "./core/broker.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import type { Engine } from "./engines/engine.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine, type RedisEngineOptions } from "./engines/redis/redis-engine.js";
import { connectTelemetryInterceptor } from "./observability/connect-telemetry.js";
import { GatewayMetrics } from "./observability/gateway-metrics.js";
import { healthService, healthServiceDefinition } from "./observability/grpc-health.js";
import { grpcInstrumentation } from "./observability/grpc-telemetry.js";
import { handleHealthRequest } from "./observability/health-http.js";
import { HealthState } from "./observability/health-state.js";
import { RpcTelemetry } from "./observability/rpc-telemetry.js";
import { tracingEnabled } from "./observability/tracing-env.js";
import { connectHandler } from "./transports/connect/connect-handler.js";
import { DualProtocolServer } from "./transports/connect/http-server.js";
import { GrpcServer } from "./transports/grpc/grpc-server.js";

/** Room for the other request fields (subject, framing) beyond the largest body. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

export function createEngine(config: GatewayConfig, instrument?: RedisEngineOptions["instrument"]): Engine {
  if (!config.redisUrl) {
    return new MemoryEngine({
      ...DEFAULT_MEMORY_OPTIONS,
      maxRetainedBytes: config.memoryMaxBytes,
      maxMessagesPerSubject: config.memoryMaxMessagesPerSubject,
    });
  }
  return new RedisEngine({
    ...DEFAULT_REDIS_OPTIONS,
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    maxLenPerSubject: config.redisMaxLenPerSubject,
    readerConnections: config.redisReaderConnections,
    instrument,
  });
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
    const broker = new Broker(engine, {
      observer: metrics.brokerObserver,
      limits: { maxSubjectBytes: config.maxSubjectBytes, maxBodyBytes: config.maxBodyBytes },
      subscriptions: {
        ...DEFAULT_SUBSCRIPTION_OPTIONS,
        maxBufferedBytes: config.subscriberBufferBytes,
        maxBufferedMessages: config.subscriberBufferMessages,
      },
    });
    const maxReceiveMessageBytes = config.maxBodyBytes + REQUEST_OVERHEAD_BYTES;
    const health = new HealthState(engine, broker);
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
        fallback: (request, response) => {
          if (handleHealthRequest(health, request, response)) return;
          response.statusCode = 404;
          response.end();
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
    await Promise.all([this.grpc.close(this.shutdownTimeoutMs), this.http.close(this.shutdownTimeoutMs), brokerClosed]);
  }
}
