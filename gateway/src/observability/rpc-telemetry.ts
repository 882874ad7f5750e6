import { type Context, context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import type { GatewayMetrics, RpcTransport, RpcType } from "./gateway-metrics.js";
import { grpcCodeName } from "./metric-names.js";

/** One RPC in flight, as both transports report it. */
export interface RpcCall {
  /** Runs `fn` inside the call's trace context, so storage spans become its children. */
  run<T>(fn: () => T): T;
  messageReceived(): void;
  messageSent(): void;
  /** Records the final status; only the first call counts. */
  end(code: number, message?: string): void;
}

/** Reads one incoming header / metadata value (W3C `traceparent`, `tracestate`). */
export type HeaderGetter = (name: string) => string | undefined;

const headerGetter = {
  get: (carrier: HeaderGetter, key: string) => carrier(key),
  keys: () => ["traceparent", "tracestate"],
};

/**
 * Metrics and spans per RPC for both transports. Tracing costs nothing when
 * it is off: no context extraction, no spans, the handler runs as is.
 */
export class RpcTelemetry {
  private readonly tracer = trace.getTracer("broker-gateway");
  /** Per method: its parsed name and label-bound metric children (hashing labels per call is slow). */
  private readonly methods = new Map<string, MethodInstruments>();

  constructor(
    private readonly metrics: GatewayMetrics | undefined,
    private readonly tracing: boolean,
  ) {}

  /** `path` is the gRPC path: `/package.Service/Method`. */
  start(transport: RpcTransport, path: string, type: RpcType, headers: HeaderGetter): RpcCall {
    const method = this.method(transport, path, type);
    method.started?.inc();
    const startedAt = method.seconds ? performance.now() : 0;
    const { service, name } = method;
    let span: Span | undefined;
    let spanContext: Context | undefined;
    if (this.tracing) {
      const parent = propagation.extract(context.active(), headers, headerGetter);
      span = this.tracer.startSpan(
        `${service}/${name}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": transport === "grpc" ? "grpc" : "connect_rpc",
            "rpc.service": service,
            "rpc.method": name,
          },
        },
        parent,
      );
      spanContext = trace.setSpan(parent, span);
    }
    let ended = false;
    return {
      run: (fn) => (spanContext ? context.with(spanContext, fn) : fn()),
      messageReceived: () => method.received?.inc(),
      messageSent: () => method.sent?.inc(),
      end: (code, message) => {
        if (ended) return;
        ended = true;
        method.seconds?.observe((performance.now() - startedAt) / 1000);
        method.handled(code)?.inc();
        if (span) {
          span.setAttribute("rpc.grpc.status_code", code);
          if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? grpcCodeName(code) });
          span.end();
        }
      },
    };
  }

  private method(transport: RpcTransport, path: string, type: RpcType): MethodInstruments {
    const key = `${transport} ${type} ${path}`;
    let method = this.methods.get(key);
    if (method) return method;
    const slash = path.lastIndexOf("/");
    const service = path.slice(1, slash);
    const name = path.slice(slash + 1);
    const metrics = this.metrics;
    const labels = { grpc_type: type, grpc_service: service, grpc_method: name, transport };
    const handled = new Map<number, Counter.Internal>();
    method = {
      service,
      name,
      started: metrics?.rpcStarted.labels(labels),
      seconds: metrics?.rpcHandlingSeconds.labels(labels),
      sent: metrics?.rpcMsgSent.labels(labels),
      received: metrics?.rpcMsgReceived.labels(labels),
      handled: (code) => {
        if (!metrics) return undefined;
        let counter = handled.get(code);
        if (!counter) {
          counter = metrics.rpcHandled.labels({ ...labels, grpc_code: grpcCodeName(code) });
          handled.set(code, counter);
        }
        return counter;
      },
    };
    // Bounded: paths are the served methods (grpc-js and connect-node reject unknown ones first).
    if (this.methods.size < 256) this.methods.set(key, method);
    return method;
  }
}

interface MethodInstruments {
  readonly service: string;
  readonly name: string;
  readonly started: Counter.Internal | undefined;
  readonly seconds: Histogram.Internal<string> | undefined;
  readonly sent: Counter.Internal | undefined;
  readonly received: Counter.Internal | undefined;
  handled(code: number): Counter.Internal | undefined;
}
