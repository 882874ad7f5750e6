import { ArchiverMetrics } from "../../gateway/src/observability/archiver-metrics.js";
import { createLogger } from "../../gateway/src/observability/logger.js";
import { type MetricsServer, registrySource, serveMetrics } from "../../gateway/src/observability/metrics-server.js";
import { shutdownTracing, tracingEnabled } from "../../gateway/src/observability/tracing-env.js";
import { Archiver, type Log } from "./archiver.js";
import { ConfigError, loadArchiverConfig } from "./config.js";

/**
 * The archiver process: `npm run archiver`. JSON log lines (pino, LOG_LEVEL),
 * Prometheus metrics on METRICS_PORT, and with OTEL_* set a span per batch
 * (register-tracing.ts must be loaded first with --import).
 */
const logger = createLogger("broker-archiver");
const log: Log = (level, msg, fields = {}) => logger[level](fields, msg);

async function exit(code: number): Promise<never> {
  await shutdownTracing();
  process.exit(code);
}

try {
  const config = loadArchiverConfig();
  const metrics = new ArchiverMetrics();
  const archiver = new Archiver(config, log, { metrics, tracing: tracingEnabled() });
  const registry = registrySource(metrics.registry);
  // The lag is computed per scrape from the oldest pending message's time, so
  // it keeps growing between passes and while passes fail.
  const metricsServer: MetricsServer = await serveMetrics(
    () => {
      metrics.lagSeconds.set(archiver.lagSeconds());
      return registry();
    },
    config.metricsPort,
    config.metricsHost,
  );
  const report = (msg: string) =>
    log("info", msg, { ...archiver.stats, trimmed: archiver.trimmed, expiredDeleted: archiver.expiredDeleted });
  archiver.start();
  log("info", "archiver started", {
    redis: config.redisUrl,
    keyPrefix: config.keyPrefix,
    batchSize: config.batchSize,
    hotCount: config.hotCount,
    hotAgeMs: config.hotAgeMs,
    metricsPort: metricsServer.port,
  });
  const timer = config.statsIntervalMs > 0 ? setInterval(() => report("stats"), config.statsIntervalMs) : undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log("info", "stopping", { signal });
    archiver.stop().then(
      async () => {
        await metricsServer.close();
        report("stopped");
        await exit(0);
      },
      async (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        await exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (err) {
  if (err instanceof ConfigError) logger.error(err.message);
  else logger.error({ err }, "failed to start");
  await exit(1);
}
