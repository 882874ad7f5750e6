import type { GatewayConfig } from "./config.js";
import { Broker } from "./core/broker.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import { ArchiveBackedEngine } from "./engines/archive/archive-backed-engine.js";
import { ArchiveStore, DEFAULT_ARCHIVE_STORE_OPTIONS } from "./engines/archive/archive-store.js";
import type { Engine } from "./engines/engine.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "./engines/redis/redis-engine.js";
import { connectHandler } from "./transports/connect/connect-handler.js";
import { DualProtocolServer } from "./transports/connect/http-server.js";
import { notFound } from "./transports/connect/not-found.js";
import { loadConsoleAssets } from "./transports/console/console-assets.js";
import { consoleHandler } from "./transports/console/console-handler.js";
import { GrpcServer } from "./transports/grpc/grpc-server.js";

/** Room for the other request fields (subject, framing) beyond the largest body. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

export function createEngine(config: GatewayConfig): Engine {
  if (!config.redisUrl) {
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
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    maxLenPerSubject: config.redisMaxLenPerSubject,
    readerConnections: config.redisReaderConnections,
    // A stream created (new subject, or lost by Redis) continues above the archive's ids.
    ...(archive ? { idFloor: (subject: string) => archive.lastId(subject) } : {}),
  });
  return archive ? new ArchiveBackedEngine(redis, archive) : redis;
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
  ) {}

  static async start(config: GatewayConfig, engine: Engine = createEngine(config)): Promise<Gateway> {
    const broker = new Broker(engine, {
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
    const grpc = new GrpcServer(broker, { host: config.host, port: config.grpcPort, maxReceiveMessageBytes });
    // Paths the broker's routes do not match: the web console (unless CONSOLE=off), else 404.
    const fallback = config.console ? consoleHandler(await loadConsoleAssets(), notFound) : undefined;
    const http = new DualProtocolServer(connectHandler(broker, { maxReceiveMessageBytes, fallback }));
    const grpcPort = await grpc.listen();
    const httpPort = await http.listen(config.httpPort, config.host);
    return new Gateway(broker, engine, grpc, http, grpcPort, httpPort, config.shutdownTimeoutMs);
  }

  /**
   * Drains: new calls get UNAVAILABLE, subscriptions end normally, in-flight
   * publishes finish, then the servers and storage close.
   */
  async close(): Promise<void> {
    const brokerClosed = this.broker.close(this.shutdownTimeoutMs);
    await Promise.all([this.grpc.close(this.shutdownTimeoutMs), this.http.close(this.shutdownTimeoutMs), brokerClosed]);
  }
}
