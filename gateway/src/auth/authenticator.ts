import { ANONYMOUS, type Caller } from "../core/caller.js";
import { unauthenticated } from "../core/errors.js";
import type { AuthConfig } from "./auth-config.js";
import type { Principal } from "./principal.js";
import { LruCache } from "./token-cache.js";
import { verifyToken } from "./token-verifier.js";

/**
 * Turns a request's `authorization` header (gRPC metadata or HTTP header)
 * into the Caller the broker checks. Both transports use one instance.
 */
export interface Authenticator {
  /** Rejects with an UNAUTHENTICATED BrokerError (UNAVAILABLE when the key set cannot be fetched). */
  authenticate(authorization: string | undefined): Promise<Caller>;
  /** False for an open gateway, which ignores any header. */
  readonly enabled: boolean;
}

/** No AUTH_* key set: everyone is the anonymous caller, allowed everything. */
export const OPEN: Authenticator = {
  enabled: false,
  authenticate: () => Promise.resolve(ANONYMOUS),
};

const BEARER = /^Bearer +([^ ]+) *$/i;

export function authenticator(config: AuthConfig | undefined, now: () => number = Date.now): Authenticator {
  return config ? new TokenAuthenticator(config, now) : OPEN;
}

/**
 * Verifies bearer tokens, keeping each verified token's Principal (its
 * compiled permissions) by the token string until the token expires, so a
 * client's later calls cost a map lookup instead of a signature check.
 */
class TokenAuthenticator implements Authenticator {
  readonly enabled = true;
  private readonly verified: LruCache<string, Principal>;

  constructor(
    private readonly config: AuthConfig,
    private readonly now: () => number,
  ) {
    this.verified = new LruCache(config.tokenCacheSize);
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization) throw unauthenticated("missing token: send the header 'authorization: Bearer <token>'");
    const token = BEARER.exec(authorization)?.[1];
    if (!token) throw unauthenticated("malformed authorization header: expected 'Bearer <token>'");
    const cached = this.verified.get(token);
    if (cached) {
      if (this.now() < cached.expiresAt) return cached;
      this.verified.delete(token);
      throw unauthenticated("token expired");
    }
    const principal = await verifyToken(token, this.config);
    this.verified.set(token, principal);
    return principal;
  }
}
