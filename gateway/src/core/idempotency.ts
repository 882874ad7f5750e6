import { createHash } from "node:crypto";

/**
 * An idempotency key as the engines store it: scoped to the caller, so one
 * client's key never answers another client's publish. Length-prefixed, so
 * no (scope, key) pair can spell another pair's stored key.
 */
export function scopedIdempotencyKey(scope: string, key: string): string {
  return `${scope.length}:${scope}:${key}`;
}

/**
 * What identifies the request a key was first used for: a digest of the body
 * and the expiration (the subject is part of the engines' key already). A
 * retry must match it; a different request under the same key is refused
 * rather than answered with the first request's id. 128 bits of SHA-256 in
 * base64url (22 characters) keeps the stored value small.
 */
export function requestDigest(body: Uint8Array, expirationSeconds: number): string {
  return createHash("sha256")
    .update(`${expirationSeconds}:`)
    .update(body)
    .digest()
    .subarray(0, 16)
    .toString("base64url");
}
