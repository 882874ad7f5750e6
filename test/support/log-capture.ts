import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../gateway/src/process/logger.js";

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { level: string; msg: string };

/** A real pino logger (the gateway's own configuration) whose lines the test reads instead of stdout. */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { log: createLogger("broker-gateway-test", { LOG_LEVEL: "info" }, destination), lines };
}
