import { trace } from "@opentelemetry/api";
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

/**
 * Structured JSON logs on stdout: one line per lifecycle event and per error,
 * nothing per message at `info`. LOG_LEVEL picks the level (trace, debug,
 * info, warn, error, fatal, silent); default info. A line written while an
 * OpenTelemetry span is active carries its `traceId`, so an error's log line
 * and the failed call's trace find each other. `destination` replaces stdout
 * (tests read the lines).
 */
export function createLogger(
  service: string,
  env: Record<string, string | undefined> = process.env,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: env.LOG_LEVEL || "info",
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: activeTraceId,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** `{ traceId }` of the active span, if any (no span without tracing: then nothing). */
function activeTraceId(): { traceId?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId } = span.spanContext();
  return /^0+$/.test(traceId) ? {} : { traceId };
}

/** The process's logger where none was passed in (engines built by tests and benches). */
let fallback: Logger | undefined;
export function defaultLogger(): Logger {
  fallback ??= createLogger("broker-gateway");
  return fallback;
}
