import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { RpcType } from "./gateway-metrics.js";
import type { RpcCall, RpcTelemetry } from "./rpc-telemetry.js";

/** What the gRPC server needs to report its calls: an interceptor and a handler wrapper. */
export interface GrpcInstrumentation {
  readonly interceptors: ServerInterceptor[];
  /** Runs each handler inside its call's trace context. */
  wrap(implementation: UntypedServiceImplementation): UntypedServiceImplementation;
}

function rpcType(requestStream: boolean, responseStream: boolean): RpcType {
  if (requestStream) return responseStream ? "bidi_stream" : "client_stream";
  return responseStream ? "server_stream" : "unary";
}

function readMetadata(metadata: Metadata, name: string): string | undefined {
  const value = metadata.get(name)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * The interceptor sees every call's start, messages and final status (it
 * counts and times them); the handler runs later, outside the interceptor's
 * async context, so the call is handed over through its metadata object,
 * which grpc-js passes on to the handler unchanged.
 */
export function grpcInstrumentation(telemetry: RpcTelemetry): GrpcInstrumentation {
  const calls = new WeakMap<Metadata, RpcCall>();
  const interceptor: ServerInterceptor = (descriptor, call) => {
    let rpc: RpcCall | undefined;
    const type = rpcType(descriptor.requestStream, descriptor.responseStream);
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            rpc = telemetry.start("grpc", descriptor.path, type, metadata, readMetadata);
            calls.set(metadata, rpc);
            forward(metadata);
          },
          onReceiveMessage: (message, forward) => {
            rpc?.messageReceived();
            forward(message);
          },
          onCancel: () => rpc?.end(1),
        }),
      sendMessage: (message, next) => {
        rpc?.messageSent();
        next(message);
      },
      sendStatus: (status, next) => {
        rpc?.end(status.code, status.details);
        next(status);
      },
    });
  };
  return {
    interceptors: [interceptor],
    wrap(implementation) {
      const wrapped: UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(implementation)) {
        const original = handler as (call: { metadata: Metadata }, callback: unknown) => void;
        // Every handler grpc-js calls takes (call) or (call, callback).
        const inContext = (call: { metadata: Metadata }, callback: unknown) => {
          const rpc = calls.get(call.metadata);
          return rpc ? rpc.run(original, call, callback) : original(call, callback);
        };
        wrapped[name] = inContext as typeof handler;
      }
      return wrapped;
    },
  };
}
