import { errors, jwtVerify } from "jose";
import { BrokerError, unauthenticated, unavailable } from "../core/errors.js";
import type { AuthConfig } from "./auth-config.js";
import { Principal } from "./principal.js";

/**
 * Verifies a JWT (signature, algorithm, exp/nbf with the clock skew, iss, aud;
 * `sub` and `exp` required) and turns it into a Principal. Every refusal is a
 * BrokerError whose message says what was wrong and never contains the token.
 */
export async function verifyToken(token: string, config: AuthConfig): Promise<Principal> {
  let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
  try {
    ({ payload } = await jwtVerify(token, config.key.key as Parameters<typeof jwtVerify>[1], {
      algorithms: [...config.key.algorithms],
      issuer: config.issuer,
      audience: config.audience ? [...config.audience] : undefined,
      clockTolerance: config.clockSkewSeconds,
      requiredClaims: ["exp", "sub"],
    }));
  } catch (err) {
    throw refusal(err, config.key.source === "AUTH_JWKS_URL");
  }
  // Accepted until exp plus the skew, exactly as long as jwtVerify accepts it.
  const expiresAt = ((payload.exp as number) + config.clockSkewSeconds) * 1000;
  try {
    return Principal.fromClaims(payload, expiresAt);
  } catch (err) {
    throw unauthenticated(`malformed token: ${(err as Error).message}`);
  }
}

function refusal(err: unknown, remoteKeys: boolean): BrokerError {
  if (err instanceof errors.JWTExpired) return unauthenticated("token expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return unauthenticated(`malformed token: it has no '${err.claim}' claim`);
    switch (err.claim) {
      case "iss":
        return unauthenticated("wrong issuer: the token's 'iss' is not the one this gateway accepts");
      case "aud":
        return unauthenticated("wrong audience: the token's 'aud' does not name this gateway");
      case "nbf":
        return unauthenticated("token not yet valid (its 'nbf' is in the future)");
      default:
        return unauthenticated(`invalid '${err.claim}' claim`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return unauthenticated("bad signature");
  if (err instanceof errors.JWKSNoMatchingKey) {
    return unauthenticated("bad signature: no key of the key set matches the token");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) {
    return unauthenticated("token signed with an algorithm this gateway does not accept");
  }
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return unavailable("cannot verify tokens: the key set (AUTH_JWKS_URL) could not be fetched", { cause: err });
  }
  if (err instanceof errors.JOSEError) return unauthenticated("malformed token: not a valid signed JWT");
  // A fetch of the JWKS that failed below jose (DNS, refused connection).
  if (remoteKeys)
    return unavailable("cannot verify tokens: the key set (AUTH_JWKS_URL) could not be fetched", { cause: err });
  return new BrokerError("internal", "token verification failed", { cause: err });
}
