import { ConfigError } from "./env.js";
import type { Logger } from "./logger.js";
import { shutdownTracing } from "./tracing-env.js";

/**
 * How the gateway's and the archiver's processes end: on a stop signal, when
 * they cannot start, and the exit itself.
 */

/** Exits with `code` once pending trace spans are flushed. */
export async function exit(code: number): Promise<never> {
  await shutdownTracing();
  process.exit(code);
}

/**
 * Runs `stop` on the first SIGTERM or SIGINT, then exits 0, or 1 if it failed.
 * Later signals are ignored: a second Ctrl-C must not cut a drain short.
 */
export function stopOnSignal(logger: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => exit(0),
      async (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        await exit(1);
      },
    );
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
}

/** Logs why the process could not start (a ConfigError as its message alone) and exits 1. */
export async function failedToStart(logger: Logger, err: unknown): Promise<never> {
  if (err instanceof ConfigError) logger.error(err.message);
  else logger.error({ err }, "failed to start");
  return exit(1);
}
