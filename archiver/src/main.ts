import { createLogger } from "../../gateway/src/process/logger.js";
import { type MetricsServer, registrySource, serveMetrics } from "../../gateway/src/process/metrics-server.js";
import { failedToStart, stopOnSignal } from "../../gateway/src/process/process-lifecycle.js";
import { tracingEnabled } from "../../gateway/src/process/tracing-env.js";
import { Archiver, type Log } from "./archiver.js";
import { loadArchiverConfig } from "./config.js";
import { ArchiverMetrics } from "./metrics.js";

/**
 * The archiver process: `npm run archiver`. JSON log lines (pino, LOG_LEVEL),
 * Prometheus metrics on METRICS_PORT, and with OTEL_* set a span per batch
 * (register-tracing.ts must be loaded first with --import).
 */
const logger = createLogger("broker-archiver");
const log: Log = (level, msg, fields = {}) => logger[level](fields, msg);

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
      metrics.failingPasses.set(archiver.failingPasses);
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
    concurrency: config.concurrency,
    hotCount: config.hotCount,
    hotAgeMs: config.hotAgeMs,
    metricsPort: metricsServer.port,
  });
  const timer = config.statsIntervalMs > 0 ? setInterval(() => report("stats"), config.statsIntervalMs) : undefined;
  stopOnSignal(logger, async (signal) => {
    clearInterval(timer);
    log("info", "stopping", { signal });
    await archiver.stop();
    await metricsServer.close();
    report("stopped");
  });
} catch (err) {
  await failedToStart(logger, err);
}
