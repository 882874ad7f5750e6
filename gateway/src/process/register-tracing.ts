/**
 * Load before the app: `node --import ./dist/gateway/src/process/register-tracing.js dist/gateway/src/main.js`.
 *
 * When the standard OTEL_* variables configure an exporter (for example
 * OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318), this registers the ES
 * module hook that lets instrumentations patch ioredis and pg, and starts the
 * OpenTelemetry SDK with the OTLP trace exporter. Otherwise it does nothing.
 * It must run before the app imports ioredis: with ES modules, patches apply
 * only to modules loaded after the hook is registered.
 */
import { register } from "node:module";
import { setTracingShutdown, tracingEnabled } from "./tracing-env.js";

if (tracingEnabled()) {
  register("@opentelemetry/instrumentation/hook.mjs", import.meta.url);
  process.env.OTEL_SERVICE_NAME ||= "broker-gateway";
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const { IORedisInstrumentation } = await import("@opentelemetry/instrumentation-ioredis");
  const { PgInstrumentation } = await import("@opentelemetry/instrumentation-pg");
  const sdk = new NodeSDK({
    instrumentations: [
      // The broker's own spans are the parents; a command with no RPC around it (live reads) is noise.
      new IORedisInstrumentation({ requireParentSpan: true }),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
    // prom-client owns metrics and pino owns logs: export traces only.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  setTracingShutdown(() => sdk.shutdown());
}
