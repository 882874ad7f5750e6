/**
 * Who is calling the broker, as far as the core cares: what they may touch,
 * until when, and the scope their idempotency keys live in. Transports get a
 * Caller from an authenticator (gateway/src/auth/) and pass it to every
 * Broker call, so both transports share one set of checks.
 */
export interface Caller {
  /** Scope of idempotency keys: the token's `sub`; "" for the anonymous caller of an open gateway. */
  readonly id: string;
  /** When the caller's credentials stop being accepted (ms since the epoch); Infinity: never. */
  readonly expiresAt: number;
  mayPublish(subject: string): boolean;
  /** Subscribe, resume and Fetch. */
  maySubscribe(subject: string): boolean;
}

/** The one caller of a gateway running without authentication: everything allowed, one idempotency scope. */
export const ANONYMOUS: Caller = {
  id: "",
  expiresAt: Number.POSITIVE_INFINITY,
  mayPublish: () => true,
  maySubscribe: () => true,
};
