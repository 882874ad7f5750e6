import type { GatewayConfig } from "./config.js";
import { Broker } from "./core/broker.js";
import { DEFAULT_SUBSCRIPTION_OPTIONS } from "./core/subscription.js";
import type { Engine } from "./engines/engine.js";
import { DEFAULT_MEMORY_OPTIONS, MemoryEngine } from "./engines/memory/memory-engine.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "./engines/redis/redis-engine.js";
import { connectHandler } from "./transports/connect/connect-handler.js";
import { DualProtocolServer } from "./transports/connect/http-server.js";
import { GrpcServer } from "./transports/grpc/grpc-server.js";

/** Room for the other request fields (subject, framing) beyond the largest body. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

/** How long a draining gateway refuses calls with UNAVAILABLE before closing its ports. */
const DRAIN_GRACE_MS = 250;

export function createEngine(config: GatewayConfig): Engine {
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
  });
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
    // Open the ports only once storage answers: the fail-fast Redis client
    // would otherwise refuse the first calls with UNAVAILABLE while it connects.
    await engine.ready();
    const broker = new Broker(engine, {
      limits: { maxSubjectBytes: config.maxSubjectBytes, maxBodyBytes: config.maxBodyBytes },
      subscriptions: {
        ...DEFAULT_SUBSCRIPTION_OPTIONS,
        maxBufferedBytes: config.subscriberBufferBytes,
        maxBufferedMessages: config.subscriberBufferMessages,
      },
    });
    const maxReceiveMessageBytes = config.maxBodyBytes + REQUEST_OVERHEAD_BYTES;
    const grpc = new GrpcServer(broker, { host: config.host, port: config.grpcPort, maxReceiveMessageBytes });
    const http = new DualProtocolServer(connectHandler(broker, { maxReceiveMessageBytes }));
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
    // The broker now answers UNAVAILABLE; keep the ports open a moment so
    // clients racing the shutdown get that status instead of a refused
    // HTTP/2 stream or a reset keep-alive connection.
    await new Promise((resolve) => setTimeout(resolve, Math.min(DRAIN_GRACE_MS, this.shutdownTimeoutMs)));
    await Promise.all([this.grpc.close(this.shutdownTimeoutMs), this.http.close(this.shutdownTimeoutMs), brokerClosed]);
  }
}
