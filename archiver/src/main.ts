import { Archiver, type Log } from "./archiver.js";
import { ConfigError, loadArchiverConfig } from "./config.js";

/** The archiver process: `npm run archiver`. Logs one JSON object per line. */
const log: Log = (level, msg, fields = {}) => {
  process.stdout.write(
    `${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`,
  );
};

try {
  const config = loadArchiverConfig();
  const archiver = new Archiver(config, log);
  const report = (msg: string) =>
    log("info", msg, { ...archiver.stats, trimmed: archiver.trimmed, expiredDeleted: archiver.expiredDeleted });
  archiver.start();
  log("info", "archiver started", {
    redis: config.redisUrl,
    keyPrefix: config.keyPrefix,
    batchSize: config.batchSize,
    hotCount: config.hotCount,
    hotAgeMs: config.hotAgeMs,
  });
  const timer = config.statsIntervalMs > 0 ? setInterval(() => report("stats"), config.statsIntervalMs) : undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log("info", "stopping", { signal });
    archiver.stop().then(
      () => {
        report("stopped");
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
} catch (err) {
  log("error", err instanceof ConfigError ? err.message : `failed to start: ${String(err)}`);
  process.exit(1);
}
