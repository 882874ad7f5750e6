/**
 * What the core and the engines log through: the shape of pino's methods
 * (fields first, then the message), so a pino Logger is one, and core needs
 * no logging library.
 */
export interface Log {
  error(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

/** Logs nothing (the default where no logger is passed, e.g. in benchmarks). */
export const SILENT_LOG: Log = {
  error() {},
  warn() {},
  info() {},
};
