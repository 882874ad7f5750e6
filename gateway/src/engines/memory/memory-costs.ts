/**
 * What the memory engine charges against MEMORY_MAX_BYTES: an estimate of the
 * heap a message and a subject really take, not only the body, so a flood of
 * empty bodies on many subjects is bounded too.
 *
 * Measured with process.memoryUsage() (heapUsed + arrayBuffers, after full
 * collections; `node --expose-gc --import tsx test/support/memory-churn.ts
 * costs 100000`, COSTS_BODY_BYTES=0|16|1024; Node 20, x64): a message on an
 * existing subject took 108 B with an empty body (all empty bodies share one
 * Uint8Array), 324 B with a 16-byte body and 1,316 B with a 1 KiB one, so a
 * body's copy adds its length plus ~200 B of Uint8Array and ArrayBuffer; a new
 * subject with one empty message took 455 B for a 22-character subject, so a
 * subject costs ~325 B plus its characters. The constants round those up.
 */

/** A StoredMessage object, its place in its log's array, and its heap numbers. */
export const MESSAGE_OVERHEAD_BYTES = 112;

/** A non-empty body's own Uint8Array and ArrayBuffer objects (beside its bytes). */
export const BODY_OVERHEAD_BYTES = 208;

/** A SubjectLog, its array, its Map entry and heap slots, and the string's header. */
export const SUBJECT_OVERHEAD_BYTES = 336;

export function messageCost(body: Uint8Array): number {
  return MESSAGE_OVERHEAD_BYTES + (body.byteLength === 0 ? 0 : BODY_OVERHEAD_BYTES + body.byteLength);
}

export function subjectCost(subject: string): number {
  // V8 keeps a Latin-1 string at one byte per character and others at two.
  return SUBJECT_OVERHEAD_BYTES + subject.length * (/^[\0-\xff]*$/.test(subject) ? 1 : 2);
}
