/**
 * Typed broker errors. The core throws only these; each transport maps
 * `BrokerError.code` to its wire status in one place (transports/status.ts).
 * The names follow gRPC status codes because that is the contract.
 */
export type BrokerErrorCode =
  | "invalid_argument"
  | "not_found"
  | "out_of_range"
  | "resource_exhausted"
  | "unavailable"
  | "data_loss"
  | "deadline_exceeded"
  | "internal";

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string): BrokerError => new BrokerError("invalid_argument", message);

export const unavailable = (message: string, cause?: unknown): BrokerError =>
  new BrokerError("unavailable", message, { cause });

export const resourceExhausted = (message: string): BrokerError => new BrokerError("resource_exhausted", message);

/** Wraps anything a storage engine threw that is not already a BrokerError. */
export function asStorageError(err: unknown): BrokerError {
  if (err instanceof BrokerError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return unavailable(`storage unavailable: ${reason}`, err);
}

export const outOfRange = (message: string): BrokerError => new BrokerError("out_of_range", message);

/** A client too slow to send its request (REQUEST_READ_TIMEOUT_MS). */
export const deadlineExceeded = (message: string): BrokerError => new BrokerError("deadline_exceeded", message);

export const dataLoss = (message: string): BrokerError => new BrokerError("data_loss", message);
