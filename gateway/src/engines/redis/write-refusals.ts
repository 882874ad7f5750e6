import { resourceExhausted } from "../../core/errors.js";

/**
 * Writes Redis refused on purpose, as the broker's RESOURCE_EXHAUSTED: Redis
 * at `maxmemory` with the `noeviction` policy ("OOM command not allowed ...")
 * and a new subject beyond MAX_SUBJECTS (the scripts' `BROKER_SUBJECT_LIMIT`
 * error). Anything else is returned as it is (the broker reports it as
 * storage unavailable). A small stand-in for fuller error classification.
 */
export function writeRefusal(err: unknown, maxSubjects: number): unknown {
  const message = err instanceof Error ? err.message : "";
  if (/\bOOM command not allowed\b/.test(message)) {
    return resourceExhausted(
      "storage is full: Redis reached its maxmemory and refuses writes (noeviction); " +
        "retry once messages expire and the sweep frees memory, or give Redis more memory",
      { reason: "STORAGE_FULL" },
    );
  }
  const limit = /BROKER_SUBJECT_LIMIT (\d+)/.exec(message);
  if (limit) {
    return resourceExhausted(
      `subject limit reached: ${limit[1]} subjects hold messages and MAX_SUBJECTS is ${maxSubjects}; ` +
        "publish to an existing subject or wait for messages to expire",
    );
  }
  return err;
}
