import type { Log } from "./log.js";

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
  | "deadline_exceeded"
  | "internal";

/**
 * Why, in machine-readable form: sent to clients as a google.rpc.ErrorInfo
 * `reason` beside the status (docs/errors.md lists what each one means and
 * whether a retry can help). Clients branch on these, never on the message.
 */
export type ErrorReason =
  // invalid_argument: the request
  | "INVALID_SUBJECT"
  | "INVALID_BODY"
  | "INVALID_EXPIRATION"
  | "INVALID_ID"
  | "INVALID_IDEMPOTENCY_KEY"
  | "INVALID_BATCH"
  | "INVALID_REQUEST"
  // invalid_argument: Fetch of an id that cannot be fetched
  | "UNKNOWN_ID"
  | "EXPIRED"
  | "FIRE_AND_FORGET"
  | "NO_LONGER_RETAINED"
  // out_of_range
  | "RESUME_BEYOND_LAST_ID"
  // resource_exhausted
  | "FELL_BEHIND_RETENTION"
  | "RESOURCE_EXHAUSTED"
  | "STORAGE_FULL"
  // data_loss
  | "DATA_LOSS"
  // unavailable
  | "SHUTTING_DOWN"
  | "STORAGE_UNAVAILABLE"
  // unauthenticated, permission_denied, already_exists (see docs/security.md)
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "IDEMPOTENCY_KEY_REUSED"
  // deadline_exceeded
  | "REQUEST_TOO_SLOW"
  // not_found
  | "NOT_FOUND"
  // internal
  | "INTERNAL";

/** The reason an error gets when its thrower named none. */
const DEFAULT_REASONS: Record<BrokerErrorCode, ErrorReason> = {
  invalid_argument: "INVALID_REQUEST",
  unauthenticated: "UNAUTHENTICATED",
  permission_denied: "PERMISSION_DENIED",
  already_exists: "IDEMPOTENCY_KEY_REUSED",
  deadline_exceeded: "REQUEST_TOO_SLOW",
  not_found: "NOT_FOUND",
  out_of_range: "RESUME_BEYOND_LAST_ID",
  resource_exhausted: "RESOURCE_EXHAUSTED",
  unavailable: "STORAGE_UNAVAILABLE",
  data_loss: "DATA_LOSS",
  internal: "INTERNAL",
};

export interface BrokerErrorOptions {
  readonly cause?: unknown;
  readonly reason?: ErrorReason;
  /** Sent as ErrorInfo metadata (subject, id, ...): small, safe values only. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export class BrokerError extends Error {
  override readonly name = "BrokerError";
  readonly reason: ErrorReason;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(
    readonly code: BrokerErrorCode,
    message: string,
    options: BrokerErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason ?? DEFAULT_REASONS[code];
    this.metadata = options.metadata ?? {};
  }
}

type Details = Omit<BrokerErrorOptions, "cause">;

export const invalidArgument = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("invalid_argument", message, details);

export const unavailable = (message: string, details: BrokerErrorOptions = {}): BrokerError =>
  new BrokerError("unavailable", message, details);

export const resourceExhausted = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("resource_exhausted", message, details);

export const outOfRange = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("out_of_range", message, details);

export const dataLoss = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("data_loss", message, details);

/** The message every INTERNAL error carries: details stay in the log, never on the wire. */
export const INTERNAL_MESSAGE = "internal error";

export const internal = (cause: unknown): BrokerError =>
  new BrokerError("internal", INTERNAL_MESSAGE, { cause, reason: "INTERNAL" });

/**
 * What the core makes of anything a storage call or a consumer threw: a
 * BrokerError passes as it is (engines classify their own failures); anything
 * else is a bug, logged here once with its cause and answered INTERNAL.
 */
export function asBrokerError(err: unknown, log: Log, context: Record<string, unknown>): BrokerError {
  if (err instanceof BrokerError) return err;
  log.error({ ...context, err }, "unexpected error (a bug): answered INTERNAL");
  return internal(err);
}

/** No credentials, or credentials that do not verify (the message says which, never echoing them). */
export const unauthenticated = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("unauthenticated", message, details);

export const permissionDenied = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("permission_denied", message, details);

export const alreadyExists = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("already_exists", message, details);

/** A client too slow to send its request (REQUEST_READ_TIMEOUT_MS). */
export const deadlineExceeded = (message: string, details: Details = {}): BrokerError =>
  new BrokerError("deadline_exceeded", message, details);
