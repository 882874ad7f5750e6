/**
 * Typed broker errors. The core throws only these; each transport maps
 * `BrokerError.code` to its wire status in one place (transports/status.ts).
 * The names follow gRPC status codes because that is the contract.
 */
export type BrokerErrorCode =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "already_exists"
  | "not_found"
  | "out_of_range"
  | "resource_exhausted"
  | "unavailable"
  | "data_loss"
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

export const dataLoss = (message: string): BrokerError => new BrokerError("data_loss", message);

/** No credentials, or credentials that do not verify (the message says which, never echoing them). */
export const unauthenticated = (message: string): BrokerError => new BrokerError("unauthenticated", message);

export const permissionDenied = (message: string): BrokerError => new BrokerError("permission_denied", message);

export const alreadyExists = (message: string): BrokerError => new BrokerError("already_exists", message);
