import { Code, ConnectError } from "@connectrpc/connect";
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

const CODE_TITLES: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: "Invalid request",
  [Code.Unavailable]: "Gateway unavailable",
  [Code.ResourceExhausted]: "Too much at once",
  [Code.DeadlineExceeded]: "Timed out",
  [Code.Internal]: "Gateway error",
  [Code.Canceled]: "Cancelled",
};

/**
 * Classifies an error from a call. The gateway answers a Fetch it cannot
 * serve with INVALID_ARGUMENT and a message that says why (see
 * gateway/src/core/broker.ts): "unknown id: ...", "... has expired ...",
 * "... expired at ...", "... fire-and-forget ...".
 */
export function describeError(err: unknown): Problem {
  if (err instanceof BodyEncodingError) return { title: "Invalid body", detail: err.message, kind: "invalid" };
  if (!(err instanceof ConnectError)) {
    return { title: "Error", detail: err instanceof Error ? err.message : String(err), kind: "error" };
  }
  const detail = err.rawMessage || Code[err.code];
  // The gateway says which: missing, malformed, expired, bad signature, wrong issuer or audience.
  if (err.code === Code.Unauthenticated) {
    return { title: "Token refused — paste a valid token above", detail, kind: "unauthenticated" };
  }
  if (err.code === Code.PermissionDenied)
    return { title: "Not allowed by your token", detail, kind: "permission-denied" };
  if (err.code === Code.InvalidArgument) {
    if (detail.startsWith("unknown id")) return { title: "Unknown id", detail, kind: "unknown-id" };
    if (/\bexpired\b/.test(detail)) return { title: "Expired", detail, kind: "expired" };
    if (detail.includes("fire-and-forget")) return { title: "Not fetchable", detail, kind: "not-fetchable" };
    return { title: "Invalid request", detail, kind: "invalid" };
  }
  // fetch() failing before any response (gateway down, wrong port) surfaces as UNKNOWN or UNAVAILABLE.
  if (/failed to fetch|networkerror|load failed/i.test(detail)) {
    return { title: "Cannot reach the gateway", detail, kind: "unreachable" };
  }
  const title = CODE_TITLES[err.code] ?? `Error (${Code[err.code]})`;
  return { title, detail, kind: err.code === Code.Unavailable ? "unreachable" : "error" };
}
