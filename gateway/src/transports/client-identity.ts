import { peerKey } from "./connection-admission.js";

/** Who a call comes from, as the limits see it: opaque keys, never shown to other clients. */
export interface ClientIdentity {
  /** One TCP connection (Subscribe streams per connection). */
  readonly connection: string;
  /** Whose publish rate a call spends (PUBLISH_RATE_LIMIT). */
  readonly principal: string;
}

/**
 * The client of a call on either port, from its connection's peer address.
 *
 * A call whose token was verified before (the authenticator's cache) is
 * charged to the token's `sub`; otherwise, an open gateway or a token's first
 * call, to the peer's IP address (so clients behind one proxy share a rate).
 */
export function clientIdentity(
  remoteAddress: string | undefined,
  remotePort: number | undefined,
  subject?: string,
): ClientIdentity {
  return {
    connection: peerKey(remoteAddress, remotePort),
    principal: subject ? principalOf(subject) : `addr:${remoteAddress ?? "unknown"}`,
  };
}

/** The rate-limit principal of a verified token's `sub`. */
export function principalOf(subject: string): string {
  return `sub:${subject}`;
}
