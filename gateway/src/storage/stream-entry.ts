import type { StoredMessage } from "../core/message.js";

/**
 * How a message is laid out in a Redis Stream entry. Ids are `0-<n>`: the
 * ms part is fixed at 0 so `XADD key 0-*` makes Redis assign n = 1, 2, 3, ...
 * atomically per stream, whichever gateway publishes.
 */
export const FIELD_BODY = "b";
export const FIELD_PUBLISHED_AT = "t";
export const FIELD_EXPIRES_AT = "x";

export const NEXT_ID = "0-*";

export function entryId(id: number): string {
  return `0-${id}`;
}

export function parseEntryId(raw: Buffer | string): number {
  const text = raw.toString();
  return Number(text.slice(text.indexOf("-") + 1));
}

export function decodeEntry(subject: string, rawId: Buffer | string, fields: Buffer[]): StoredMessage {
  let body: Uint8Array = new Uint8Array(0);
  let publishedAt = 0;
  let expiresAt = 0;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = (fields[i] as Buffer).toString();
    const value = fields[i + 1] as Buffer;
    if (name === FIELD_BODY) body = value;
    else if (name === FIELD_PUBLISHED_AT) publishedAt = Number(value.toString());
    else if (name === FIELD_EXPIRES_AT) expiresAt = Number(value.toString());
  }
  return { id: parseEntryId(rawId), subject, body, publishedAt, expiresAt };
}

/** What an entry decodes to: the broker's message (re-exported so the archiver needs only this contract). */
export { FIRE_AND_FORGET, type StoredMessage } from "../core/message.js";
