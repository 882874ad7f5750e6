import { type Context, context, propagation, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Counter, Histogram } from "prom-client";
import { grpcCodeName } from "../process/metric-names.js";
import type { GatewayMetrics, RpcTransport, RpcType } from "./gateway-metrics.js";

/** One RPC in flight, as both transports report it. */
export interface RpcCall {
  /** Runs `fn(a, b)` inside the call's trace context, so storage spans become its children. */
  run<T, A = undefined, B = undefined>(fn: (a: A, b: B) => T, a: A, b: B): T;
  messageReceived(): void;
  messageSent(): void;
  /** Records the final status; only the first call counts. */
  end(code: number, message?: string): void;
}

/** Reads one incoming header / metadata value (W3C `traceparent`, `tracestate`) from a call's carrier. */
export type HeaderGetter<C> = (carrier: C, name: string) => string | undefined;

const TRACE_HEADERS = ["traceparent", "tracestate"];

/**
 * Metrics and spans per RPC for both transports. Tracing costs nothing when
 * it is off: no context extraction, no spans, the handler runs as is. A call
 * is one small object (no closures), and its method's instruments are found
 * without building a key string: a call's garbage stays small.
 */
export class RpcTelemetry {
  private readonly tracer = trace.getTracer("broker-gateway");
  /** Per path, the instruments of each transport and type it was called with (hashing labels per call is slow). */
  private readonly methods = new Map<string, MethodInstruments[]>();
  private methodCount = 0;

  constructor(
    private readonly metrics: GatewayMetrics | undefined,
    private readonly tracing: boolean,
  ) {
    metrics?.beforeScrape(() => {
      for (const variants of this.methods.values()) for (const method of variants) method.flush();
    });
  }

  /** `path` is the gRPC path: `/package.Service/Method`; headers are read from `carrier` only when tracing. */
  start<C>(transport: RpcTransport, path: string, type: RpcType, carrier: C, getHeader: HeaderGetter<C>): RpcCall {
    const method = this.method(transport, path, type);
    method.countStarted();
    const startedAt = method.seconds ? performance.now() : 0;
    if (!this.tracing) return new TrackedCall(method, startedAt, undefined, undefined);
    const { service, name } = method;
    const parent = propagation.extract(context.active(), carrier, {
      get: (from: C, key: string) => getHeader(from, key),
      keys: () => TRACE_HEADERS,
    });
    const span = this.tracer.startSpan(
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
    return new TrackedCall(method, startedAt, span, trace.setSpan(parent, span));
  }

  private method(transport: RpcTransport, path: string, type: RpcType): MethodInstruments {
    let variants = this.methods.get(path);
    if (variants) {
      for (const method of variants) if (method.transport === transport && method.type === type) return method;
    }
    const method = this.instruments(transport, path, type);
    // Bounded: paths are the served methods (grpc-js and connect-node reject unknown ones first).
    if (this.methodCount < 256) {
      if (!variants) {
        variants = [];
        this.methods.set(path, variants);
      }
      variants.push(method);
      this.methodCount += 1;
    } else {
      // Not kept, so no scrape would flush it: it counts straight into prom-client.
      method.immediate = true;
    }
    return method;
  }

  private instruments(transport: RpcTransport, path: string, type: RpcType): MethodInstruments {
    const slash = path.lastIndexOf("/");
    const service = path.slice(1, slash);
    const name = path.slice(slash + 1);
    const metrics = this.metrics;
    const labels = { grpc_type: type, grpc_service: service, grpc_method: name, transport };
    return new MethodInstruments(transport, type, service, name, metrics, labels);
  }
}

/**
 * One method's counts, kept as plain numbers and added to their prom-client
 * counters when a scrape reads them: a label-bound prom-client child still
 * builds its label string and a result object on every inc.
 */
class MethodInstruments {
  private started = 0;
  private sent = 0;
  private received = 0;
  immediate = false;
  private readonly handledByCode = new Map<number, { counter: Counter.Internal; pending: number }>();
  readonly seconds: Histogram.Internal<string> | undefined;
  private readonly counters:
    | { started: Counter.Internal; sent: Counter.Internal; received: Counter.Internal }
    | undefined;

  constructor(
    readonly transport: RpcTransport,
    readonly type: RpcType,
    readonly service: string,
    readonly name: string,
    private readonly metrics: GatewayMetrics | undefined,
    private readonly labels: RpcLabels,
  ) {
    this.seconds = metrics?.rpcHandlingSeconds.labels(labels);
    this.counters = metrics && {
      started: metrics.rpcStarted.labels(labels),
      sent: metrics.rpcMsgSent.labels(labels),
      received: metrics.rpcMsgReceived.labels(labels),
    };
  }

  countStarted(): void {
    this.started += 1;
    if (this.immediate) this.flush();
  }

  countSent(): void {
    this.sent += 1;
    if (this.immediate) this.flush();
  }

  countReceived(): void {
    this.received += 1;
    if (this.immediate) this.flush();
  }

  handled(code: number): void {
    const metrics = this.metrics;
    if (!metrics) return;
    let entry = this.handledByCode.get(code);
    if (!entry) {
      entry = { counter: metrics.rpcHandled.labels({ ...this.labels, grpc_code: grpcCodeName(code) }), pending: 0 };
      this.handledByCode.set(code, entry);
    }
    entry.pending += 1;
    if (this.immediate) this.flush();
  }

  flush(): void {
    const counters = this.counters;
    if (!counters) return;
    if (this.started > 0) counters.started.inc(this.started);
    if (this.sent > 0) counters.sent.inc(this.sent);
    if (this.received > 0) counters.received.inc(this.received);
    this.started = 0;
    this.sent = 0;
    this.received = 0;
    for (const entry of this.handledByCode.values()) {
      if (entry.pending > 0) entry.counter.inc(entry.pending);
      entry.pending = 0;
    }
  }
}

class TrackedCall implements RpcCall {
  private ended = false;

  constructor(
    private readonly method: MethodInstruments,
    private readonly startedAt: number,
    private readonly span: Span | undefined,
    private readonly spanContext: Context | undefined,
  ) {}

  run<T, A = undefined, B = undefined>(fn: (a: A, b: B) => T, a: A, b: B): T {
    return this.spanContext ? context.with(this.spanContext, fn, undefined, a, b) : fn(a, b);
  }

  messageReceived(): void {
    this.method.countReceived();
  }

  messageSent(): void {
    this.method.countSent();
  }

  end(code: number, message?: string): void {
    if (this.ended) return;
    this.ended = true;
    const method = this.method;
    method.seconds?.observe((performance.now() - this.startedAt) / 1000);
    method.handled(code);
    const span = this.span;
    if (span) {
      span.setAttribute("rpc.grpc.status_code", code);
      if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? grpcCodeName(code) });
      span.end();
    }
  }
}

type RpcLabels = { grpc_type: RpcType; grpc_service: string; grpc_method: string; transport: RpcTransport };
