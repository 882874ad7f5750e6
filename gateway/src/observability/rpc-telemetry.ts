import { type Context, context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
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

  constructor(
    private readonly metrics: GatewayMetrics | undefined,
    private readonly tracing: boolean,
  ) {}

  /** `path` is the gRPC path: `/package.Service/Method`. */
  start(transport: RpcTransport, path: string, type: RpcType, headers: HeaderGetter): RpcCall {
    const slash = path.lastIndexOf("/");
    const service = path.slice(1, slash);
    const method = path.slice(slash + 1);
    const labels = { grpc_type: type, grpc_service: service, grpc_method: method, transport };
    const metrics = this.metrics;
    metrics?.rpcStarted.inc(labels);
    const stopTimer = metrics?.rpcHandlingSeconds.startTimer(labels);
    let span: Span | undefined;
    let spanContext: Context | undefined;
    if (this.tracing) {
      const parent = propagation.extract(context.active(), headers, headerGetter);
      span = this.tracer.startSpan(
        `${service}/${method}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": transport === "grpc" ? "grpc" : "connect_rpc",
            "rpc.service": service,
            "rpc.method": method,
          },
        },
        parent,
      );
      spanContext = trace.setSpan(parent, span);
    }
    let ended = false;
    return {
      run: (fn) => (spanContext ? context.with(spanContext, fn) : fn()),
      messageReceived: () => metrics?.rpcMsgReceived.inc(labels),
      messageSent: () => metrics?.rpcMsgSent.inc(labels),
      end: (code, message) => {
        if (ended) return;
        ended = true;
        stopTimer?.();
        metrics?.rpcHandled.inc({ ...labels, grpc_code: grpcCodeName(code) });
        if (span) {
          span.setAttribute("rpc.grpc.status_code", code);
          if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? grpcCodeName(code) });
          span.end();
        }
      },
    };
  }
}
