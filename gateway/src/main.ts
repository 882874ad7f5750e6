import cluster from "node:cluster";
import { type GatewayConfig, loadConfig } from "./config.js";
import { Gateway } from "./gateway.js";
import { setHeapGrowingPercent } from "./heap-growth.js";
import { createLogger } from "./process/logger.js";
import { answerClusterMetrics, clusterSource, registrySource, serveMetrics } from "./process/metrics-server.js";
import { exit, failedToStart, stopOnSignal } from "./process/process-lifecycle.js";

/**
 * The gateway process. With Redis it forks one worker per core (WORKERS) and
 * the workers share the ports; the memory engine runs in this process alone.
 * /metrics is served by the process that owns the port: the only process, or
 * the primary, which sums its workers' metrics.
 */
const logger = createLogger("broker-gateway");

async function runGateway(config: GatewayConfig, isWorker: boolean): Promise<void> {
  const gateway = await Gateway.start(config);
  const metricsServer = isWorker
    ? undefined
    : await serveMetrics(registrySource(gateway.metrics.registry), config.metricsPort, config.host);
  if (isWorker) answerClusterMetrics([gateway.metrics.registry]);
  // Readiness that turns false says why (a replica, a cluster node, readers failing…).
  gateway.health.watch(({ ready, reason }) => {
    if (ready) logger.info("ready");
    else logger.warn({ reason }, "not ready");
  });
  logger.info(
    {
      grpcPort: gateway.grpcPort,
      httpPort: gateway.httpPort,
      metricsPort: metricsServer?.port,
      engine: config.redisClusterNodes ? "redis-cluster" : config.redisUrl ? "redis" : "memory",
    },
    "gateway listening",
  );
  stopOnSignal(logger, async (signal) => {
    logger.info({ signal, drainDelayMs: config.drainDelayMs }, "draining");
    await gateway.close();
    await metricsServer?.close();
    logger.info("stopped");
  });
}

async function runPrimary(config: GatewayConfig): Promise<void> {
  const metricsServer = await serveMetrics(clusterSource(), config.metricsPort, config.host);
  logger.info({ workers: config.workers, metricsPort: metricsServer.port }, "starting workers");
  let stopping = false;
  let failed = false;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (code !== 0) failed = true;
    if (!stopping) {
      // A crashed worker is replaced so the ports keep their capacity.
      logger.error({ worker: worker.process.pid, code, signal }, "worker exited; starting another");
      cluster.fork();
      return;
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) {
      void metricsServer.close().then(() => exit(failed ? 1 : 0));
    }
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "draining workers");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

try {
  const config = loadConfig();
  setHeapGrowingPercent(config.heapGrowingPercent);
  if (cluster.isPrimary && config.workers > 1) await runPrimary(config);
  else await runGateway(config, cluster.isWorker);
} catch (err) {
  await failedToStart(logger, err);
}
