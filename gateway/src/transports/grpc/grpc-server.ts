import {
  Server,
  ServerCredentials,
  type ServerInterceptor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { type Authenticator, OPEN } from "../../auth/authenticator.js";
import type { Broker } from "../../core/broker.js";
import { type Log, SILENT_LOG } from "../../core/log.js";
import { useYoungStreamTablesOnGrpcServer } from "../../patches/grpc-js-http2-servers.js";
import { brokerGrpcService } from "./broker-service.js";
import { addReflection } from "./reflection.js";
import { brokerServiceDefinition } from "./service-definition.js";

export interface GrpcServerOptions {
  readonly host: string;
  readonly port: number;
  /** Room for the largest body plus the rest of the request. */
  readonly maxReceiveMessageBytes: number;
  /** Who may call (default: open). */
  readonly authenticator?: Authenticator;
  /** Observes every call (metrics, spans). */
  readonly interceptors?: ServerInterceptor[];
  /** Wraps each service's handlers (to run them in their call's trace context). */
  readonly wrapHandlers?: (implementation: UntypedServiceImplementation) => UntypedServiceImplementation;
  /** Served beside the broker (the gRPC health service). */
  readonly extraServices?: readonly { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
  /** Where calls that failed with a bug are logged. */
  readonly log?: Log;
}

/** A native gRPC (HTTP/2) server for the broker on @grpc/grpc-js. */
export class GrpcServer {
  private readonly server: Server;
  private boundPort = 0;

  constructor(
    broker: Broker,
    private readonly options: GrpcServerOptions,
  ) {
    this.server = new Server({
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes,
      // Keep idle Subscribe streams alive through proxies and detect dead peers.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      interceptors: options.interceptors ?? [],
    });
    const wrap = options.wrapHandlers ?? ((implementation) => implementation);
    this.server.addService(
      brokerServiceDefinition,
      wrap(brokerGrpcService(broker, options.authenticator ?? OPEN, options.log ?? SILENT_LOG)),
    );
    for (const { definition, implementation } of options.extraServices ?? []) {
      this.server.addService(definition, wrap(implementation));
    }
    addReflection(this.server);
  }

  /** Binds and starts serving; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(
        `${this.options.host}:${this.options.port}`,
        ServerCredentials.createInsecure(),
        (err, port) => (err ? reject(err) : resolve(port)),
      );
    });
    useYoungStreamTablesOnGrpcServer(this.server);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Lets open calls finish for up to `timeoutMs`, then cuts the rest. */
  async close(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
