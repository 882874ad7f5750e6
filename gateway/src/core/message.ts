/** A message as the broker stores and delivers it. */
export interface StoredMessage {
  /** Per-subject id: 1, 2, 3, ... assigned by the engine, never reused. */
  readonly id: number;
  readonly subject: string;
  readonly body: Uint8Array;
  /** Milliseconds since the Unix epoch. */
  readonly publishedAt: number;
  /** Milliseconds since the Unix epoch; 0 means fire-and-forget (never fetchable). */
  readonly expiresAt: number;
}

export const FIRE_AND_FORGET = 0;

/** Why a stored message cannot be fetched, or undefined when it can. */
export function unfetchableReason(message: StoredMessage, now: number): "fire-and-forget" | "expired" | undefined {
  if (message.expiresAt === FIRE_AND_FORGET) return "fire-and-forget";
  if (message.expiresAt <= now) return "expired";
  return undefined;
}

/**
 * In a stream, in place of ids `firstId..lastId` that can no longer be
 * delivered (no longer stored), so a resuming client is told, never skipped.
 */
export class Gap {
  constructor(
    readonly subject: string,
    readonly firstId: number,
    readonly lastId: number,
    readonly reason: string,
  ) {}
}

/** What a subscription yields. */
export type Delivery = StoredMessage | Gap;
