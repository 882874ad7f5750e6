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
 * Authentication seam: until tokens are checked, a principal is the peer's IP
 * address (so clients behind one proxy share a rate). Once a call carries a
 * verified token, its `sub` claim is the principal: pass it as `subject`.
 */
export function clientIdentity(
  remoteAddress: string | undefined,
  remotePort: number | undefined,
  subject?: string,
): ClientIdentity {
  return {
    connection: peerKey(remoteAddress, remotePort),
    principal: subject ? `sub:${subject}` : `addr:${remoteAddress ?? "unknown"}`,
  };
}
