import { invalidArgument } from "./errors.js";

export interface Limits {
  /** Longest subject in bytes of UTF-8. */
  readonly maxSubjectBytes: number;
  /** Largest message body in bytes. */
  readonly maxBodyBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxSubjectBytes: 1024,
  maxBodyBytes: 1024 * 1024,
};

/** Largest expiration we accept: the proto field is an int32. */
const MAX_EXPIRATION_SECONDS = 2 ** 31 - 1;

export function validateSubject(subject: string, limits: Limits): void {
  if (subject.length === 0) throw invalidArgument("subject must not be empty", { reason: "INVALID_SUBJECT" });
  const bytes = Buffer.byteLength(subject, "utf8");
  if (bytes > limits.maxSubjectBytes) {
    throw invalidArgument(`subject is ${bytes} bytes of UTF-8; the limit is ${limits.maxSubjectBytes}`, {
      reason: "INVALID_SUBJECT",
    });
  }
}

export function validateBody(body: Uint8Array, limits: Limits): void {
  if (body.byteLength > limits.maxBodyBytes) {
    throw invalidArgument(`body is ${body.byteLength} bytes; the limit is ${limits.maxBodyBytes}`, {
      reason: "INVALID_BODY",
    });
  }
}

export function validateExpiration(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_EXPIRATION_SECONDS) {
    throw invalidArgument(
      `expirationSeconds must be 0 (fire-and-forget) or a positive number of seconds, got ${seconds}`,
      { reason: "INVALID_EXPIRATION" },
    );
  }
}

/** Ids arrive as int64 (bigint) from the wire; the broker keeps them as safe integers. */
export function validateId(id: bigint | number): number {
  if (id <= 0) throw invalidArgument(`id must be a positive integer, got ${id}`, { reason: "INVALID_ID" });
  if (id > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`id ${id} is out of range`, { reason: "INVALID_ID" });
  return Number(id);
}

/** A resume position is the last id a client has: 0 (nothing yet) or more. */
export function validateResumePosition(id: bigint | number): number {
  if (id < 0) throw invalidArgument(`resumeAfterId must be 0 or a positive id, got ${id}`, { reason: "INVALID_ID" });
  if (id > BigInt(Number.MAX_SAFE_INTEGER))
    throw invalidArgument(`resumeAfterId ${id} is out of range`, { reason: "INVALID_ID" });
  return Number(id);
}

const MAX_IDEMPOTENCY_KEY_BYTES = 256;

export function validateIdempotencyKey(key: string): void {
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_IDEMPOTENCY_KEY_BYTES) {
    throw invalidArgument(`idempotencyKey is ${bytes} bytes; the limit is ${MAX_IDEMPOTENCY_KEY_BYTES}`, {
      reason: "INVALID_IDEMPOTENCY_KEY",
    });
  }
}
