/**
 * What the memory engine charges against MEMORY_MAX_BYTES: an estimate of the
 * heap a message and a subject really take, not only the body, so a flood of
 * empty bodies on many subjects is bounded too.
 *
 * Measured (test/bounded-storage-memory-costs.test.ts prints the figures;
 * Node 20, x64, no pointer compression): heapUsed + arrayBuffers grew by about
 * MESSAGE figure per message published on existing subjects, and by about the
 * SUBJECT figure (plus the subject's length) per new subject with one empty
 * message, less the message's own cost. The constants round those up.
 */

/** A StoredMessage object, its Uint8Array copy of the body (object and backing store), its log slot. */
export const MESSAGE_OVERHEAD_BYTES = 256;

/** A SubjectLog, its array, its Map entry and heap slots, and the string's header. */
export const SUBJECT_OVERHEAD_BYTES = 320;

export function messageCost(body: Uint8Array): number {
  return MESSAGE_OVERHEAD_BYTES + body.byteLength;
}

export function subjectCost(subject: string): number {
  // V8 keeps a Latin-1 string at one byte per character and others at two.
  return SUBJECT_OVERHEAD_BYTES + subject.length * (/^[\0-\xff]*$/.test(subject) ? 1 : 2);
}
