import net from "node:net";
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
import type { ClientLimits } from "../../limits/client-limits.js";
import { checkCompressedFlag } from "../../patches/grpc-js-call-internals.js";
import { useYoungStreamTablesOnGrpcServer } from "../../patches/grpc-js-http2-servers.js";
import type { ConnectionAdmission } from "../connection-admission.js";
import type { ConnectionRefusal } from "../connection-refusal.js";
import { brokerGrpcService } from "./broker-service.js";
import { limitsInterceptor } from "./limits-interceptor.js";
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
  readonly limits: ClientLimits;
  /** Counting and refusing connections (MAX_CONNECTIONS, HANDSHAKE_TIMEOUT_MS); absent: every one is served. */
  readonly connections?: { readonly admission: ConnectionAdmission; readonly refusal: ConnectionRefusal };
}

/**
 * A native gRPC (HTTP/2) server for the broker on @grpc/grpc-js. The port is
 * a net.Server of ours that hands each admitted connection to grpc-js
 * through its public connection injector, so connections can be counted,
 * refused and timed without grpc-js's internals.
 */
export class GrpcServer {
  private readonly server: Server;
  private readonly listener: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private boundPort = 0;

  constructor(
    broker: Broker,
    private readonly options: GrpcServerOptions,
  ) {
    checkCompressedFlag();
    const admission = options.connections?.admission;
    this.server = new Server({
      "grpc.max_receive_message_length": options.maxReceiveMessageBytes,
      // Keep idle Subscribe streams alive through proxies and detect dead peers.
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      // Last: it wraps the observers, which then count its refusals.
      interceptors: [
        ...(options.interceptors ?? []),
        limitsInterceptor(options.limits, admission, options.authenticator),
      ],
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
    const injector = this.server.createConnectionInjector(ServerCredentials.createInsecure());
    this.listener = net.createServer((socket) => {
      const { connections } = this.options;
      socket.on("error", () => socket.destroy());
      if (connections && !connections.admission.admit(socket, "grpc")) {
        connections.refusal.refuseGrpc(socket);
        return;
      }
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      injector.injectConnection(socket);
    });
  }

  /** Binds and starts serving; resolves with the bound port (useful with port 0). */
  async listen(): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.listener.once("error", reject);
      this.listener.listen(this.options.port, this.options.host, () => {
        this.listener.off("error", reject);
        resolve((this.listener.address() as net.AddressInfo).port);
      });
    });
    useYoungStreamTablesOnGrpcServer(this.server);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Lets open calls finish for up to `timeoutMs`, then cuts the rest. */
  async close(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
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
    // Connections grpc-js has not turned into sessions yet (no preface) are ours to end.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
