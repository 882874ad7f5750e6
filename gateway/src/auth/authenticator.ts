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
  /**
   * Runs `call` as the header's caller, or rejects as `authenticate` does. A
   * token already verified runs `call` at once, without a promise of its own:
   * this is the per-call path of every RPC.
   */
  as<T>(authorization: string | undefined, call: (caller: Caller) => Promise<T>): Promise<T>;
  /**
   * The `sub` of a header's token if it was verified before and has not
   * expired, else undefined; never verifies (the limits ask this before the
   * call is authenticated, to charge the token's owner rather than its address).
   */
  verifiedSubject(authorization: string | undefined): string | undefined;
  /** False for an open gateway, which ignores any header. */
  readonly enabled: boolean;
}

/** No AUTH_* key set: everyone is the anonymous caller, allowed everything. */
export const OPEN: Authenticator = {
  enabled: false,
  authenticate: () => Promise.resolve(ANONYMOUS),
  as: (_authorization, call) => call(ANONYMOUS),
  verifiedSubject: () => undefined,
};

const BEARER = /^Bearer +([^ ]+) *$/i;

export function authenticator(config: AuthConfig | undefined, now: () => number = Date.now): Authenticator {
  return config ? new TokenAuthenticator(config, now) : OPEN;
}

/**
 * Verifies bearer tokens, keeping each verified token's Principal (its
 * compiled permissions) by the header carrying it until the token expires,
 * so a client's later calls cost a map lookup instead of a signature check.
 */
class TokenAuthenticator implements Authenticator {
  readonly enabled = true;
  private readonly verified: LruCache<string, Principal>;

  constructor(
    private readonly config: AuthConfig,
    private readonly now: () => number,
  ) {
    this.verified = new LruCache(config.tokenCacheSize, 1_000, now);
  }

  as<T>(authorization: string | undefined, call: (caller: Caller) => Promise<T>): Promise<T> {
    let known: Caller | undefined;
    try {
      known = this.known(authorization);
    } catch (err) {
      return Promise.reject(err);
    }
    return known ? call(known) : this.authenticate(authorization).then(call);
  }

  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (!authorization) throw unauthenticated("missing token: send the header 'authorization: Bearer <token>'");
    const known = this.known(authorization);
    if (known) return known;
    const token = BEARER.exec(authorization)?.[1];
    if (!token) throw unauthenticated("malformed authorization header: expected 'Bearer <token>'");
    const principal = await verifyToken(token, this.config);
    this.verified.set(authorization, principal);
    return principal;
  }

  /**
   * The caller of a header verified before, keyed by the whole header (a
   * client sends the same one each call, so a hit needs no parsing); throws
   * once its token has expired; undefined when not verified yet.
   */
  verifiedSubject(authorization: string | undefined): string | undefined {
    const cached = authorization ? this.verified.get(authorization) : undefined;
    return cached && this.now() < cached.expiresAt ? cached.id : undefined;
  }

  private known(authorization: string | undefined): Caller | undefined {
    if (!authorization) return undefined;
    const cached = this.verified.get(authorization);
    if (!cached) return undefined;
    if (this.now() < cached.expiresAt) return cached;
    this.verified.delete(authorization);
    throw unauthenticated("token expired");
  }
}
