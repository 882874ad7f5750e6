import cluster from "node:cluster";
import { ConfigError, loadConfig } from "./config.js";
import { Gateway } from "./gateway.js";

/**
 * The gateway process. With Redis it forks one worker per core (WORKERS) and
 * the workers share the ports; the memory engine runs in this process alone.
 */
function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`,
  );
}

async function runGateway(): Promise<void> {
  const config = loadConfig();
  const gateway = await Gateway.start(config);
  log("info", "gateway listening", {
    grpcPort: gateway.grpcPort,
    httpPort: gateway.httpPort,
    engine: config.redisUrl ? "redis" : "memory",
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log("info", "draining", { signal });
    gateway.close().then(
      () => {
        log("info", "stopped");
        process.exit(0);
      },
      (err: unknown) => {
        log("error", "shutdown failed", { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

function runPrimary(workers: number): void {
  log("info", "starting workers", { workers });
  let stopping = false;
  let failed = false;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (code !== 0) failed = true;
    if (!stopping) {
      // A crashed worker is replaced so the ports keep their capacity.
      log("error", "worker exited; starting another", { worker: worker.process.pid, code, signal });
      cluster.fork();
      return;
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log("info", "draining workers", { signal });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

try {
  const config = loadConfig();
  if (cluster.isPrimary && config.workers > 1) runPrimary(config.workers);
  else await runGateway();
} catch (err) {
  log("error", err instanceof ConfigError ? err.message : `failed to start: ${String(err)}`);
  process.exit(1);
}
