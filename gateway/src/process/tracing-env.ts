/**
 * Whether the standard OTEL_* variables ask for traces. Tracing is off unless
 * an exporter or OTLP endpoint is configured, so a plain start pays nothing:
 * no SDK, no loader hook, no spans.
 */
export function tracingEnabled(env: Record<string, string | undefined> = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === "true") return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === "none") return false;
  return Boolean(exporter || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

const SHUTDOWN = Symbol.for("broker.tracing.shutdown");
type Shutdown = () => Promise<void>;

/** Called by register-tracing.ts so the app can flush spans before it exits. */
export function setTracingShutdown(shutdown: Shutdown): void {
  (globalThis as { [SHUTDOWN]?: Shutdown })[SHUTDOWN] = shutdown;
}

/** Flushes and stops the tracing SDK if it was started (bounded: it never blocks an exit for long). */
export async function shutdownTracing(timeoutMs = 2_000): Promise<void> {
  const shutdown = (globalThis as { [SHUTDOWN]?: Shutdown })[SHUTDOWN];
  if (!shutdown) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    // Spans that cannot be flushed at exit are lost either way; exiting must not wait or fail on them.
    shutdown().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
