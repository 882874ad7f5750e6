import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "../../gateway/gen/google/rpc/error_details_pb.js";
import { BodyEncodingError } from "./body-codec.js";

/** What went wrong, in words a person can act on. */
export interface Problem {
  /** A short label: "Unknown id", "Expired", "Invalid request", ... */
  readonly title: string;
  /** The gateway's own message, or what the browser reported. */
  readonly detail: string;
  /** A machine-readable kind, used as a CSS class and by tests. */
  readonly kind:
    | "unknown-id"
    | "expired"
    | "not-fetchable"
    | "invalid"
    | "unauthenticated"
    | "permission-denied"
    | "unreachable"
    | "error";
}

/** ErrorInfo.domain of the gateway's errors (gateway/src/transports/status.ts). */
const GATEWAY_DOMAIN = "broker.gateway";

/** The gateway's reasons (docs/errors.md) this page words differently from their status code. */
const REASONS: Record<string, Omit<Problem, "detail">> = {
  UNKNOWN_ID: { title: "Unknown id", kind: "unknown-id" },
  EXPIRED: { title: "Expired", kind: "expired" },
  NO_LONGER_RETAINED: { title: "Expired or no longer retained", kind: "expired" },
  FIRE_AND_FORGET: { title: "Not fetchable", kind: "not-fetchable" },
  STORAGE_UNAVAILABLE: { title: "Storage unavailable", kind: "unreachable" },
  SHUTTING_DOWN: { title: "Gateway shutting down", kind: "unreachable" },
  FELL_BEHIND_RETENTION: { title: "Fell behind retention", kind: "error" },
  DATA_LOSS: { title: "Storage lost messages", kind: "error" },
  // The message says which: missing, malformed, expired, bad signature, wrong issuer or audience.
  UNAUTHENTICATED: { title: "Token refused — paste a valid token above", kind: "unauthenticated" },
  PERMISSION_DENIED: { title: "Not allowed by your token", kind: "permission-denied" },
};

const CODE_TITLES: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "Invalid request",
  [Code.Unavailable]: "Gateway unavailable",
  [Code.ResourceExhausted]: "Too much at once",
  [Code.DeadlineExceeded]: "Timed out",
  [Code.Internal]: "Gateway error",
  [Code.Canceled]: "Cancelled",
};

/** The gateway's machine-readable reason (a google.rpc.ErrorInfo detail), if the error carries one. */
export function errorReason(err: ConnectError): string | undefined {
  return err.findDetails(ErrorInfoSchema).find((info) => info.domain === GATEWAY_DOMAIN)?.reason;
}

/**
 * Classifies an error from a call by the reason the gateway attached (see
 * docs/errors.md), falling back to the status code; the message is shown,
 * never parsed.
 */
export function describeError(err: unknown): Problem {
  if (err instanceof BodyEncodingError) return { title: "Invalid body", detail: err.message, kind: "invalid" };
  if (!(err instanceof ConnectError)) {
    return { title: "Error", detail: err instanceof Error ? err.message : String(err), kind: "error" };
  }
  const detail = err.rawMessage || Code[err.code];
  const reason = errorReason(err);
  const known = reason === undefined ? undefined : REASONS[reason];
  if (known) return { ...known, detail };
  if (err.code === Code.InvalidArgument) return { title: "Invalid request", detail, kind: "invalid" };
  // fetch() failing before any response (gateway down, wrong port) surfaces as UNKNOWN or UNAVAILABLE, with no reason.
  if (reason === undefined && (err.code === Code.Unknown || err.code === Code.Unavailable)) {
    return { title: "Cannot reach the gateway", detail, kind: "unreachable" };
  }
  const title = CODE_TITLES[err.code] ?? `Error (${Code[err.code]})`;
  return { title, detail, kind: err.code === Code.Unavailable ? "unreachable" : "error" };
}
