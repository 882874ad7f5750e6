import { type Logger, pino } from "pino";

export type { Logger };

/**
 * Structured JSON logs on stdout: one line per lifecycle event and per error,
 * nothing per message at `info`. LOG_LEVEL picks the level (trace, debug,
 * info, warn, error, fatal, silent); default info.
 */
export function createLogger(service: string, env: Record<string, string | undefined> = process.env): Logger {
  return pino({
    level: env.LOG_LEVEL || "info",
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
