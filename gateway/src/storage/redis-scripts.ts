import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/**
 * The Lua scripts of the storage contract, each a file in ./lua/ with its
 * keys and arguments described at its top. Both the gateway and the archiver
 * define them on their ioredis connections under these command names, so a
 * script is always called the same way (EVALSHA, falling back to EVAL).
 * `npm run build` copies the .lua files beside the compiled code.
 */
const SCRIPTS = {
  /** The last id ever assigned on a stream (survives trimming), or 0-0 when it does not exist. */
  brokerLastId: { file: "last-id.lua", numberOfKeys: 1 },
  /** Raises a stream's last id to ids given out before Redis lost data (see assigned-ids.ts). */
  brokerRaiseLastId: { file: "raise-last-id.lua", numberOfKeys: 1 },
  /** [first stored id, last id ever assigned], 0-0 for what does not exist. */
  brokerStoredRange: { file: "stored-range.lua", numberOfKeys: 1 },
  /** The last id of a stream, or the watermark its deleted stream left, or 0-0. */
  brokerLastIdOrFloor: { file: "last-id-or-floor.lua", numberOfKeys: 2 },
  /** Creates a stream above an id floor with its first message, registers and schedules the subject. */
  brokerCreateStream: { file: "create-stream.lua", numberOfKeys: 4 },
  /** Appends a batch to one stream atomically, with consecutive ids. */
  brokerAppendBatch: { file: "append-batch.lua", numberOfKeys: 4 },
  /** Appends several subjects' shares of a batch in one atomic step (no archive); keys: 3 + one per share, so the caller passes their number first. */
  brokerAppendShares: { file: "append-shares.lua", numberOfKeys: undefined },
  /** Idempotent publish in one round trip. */
  brokerAppendOnce: { file: "append-once.lua", numberOfKeys: 5 },
  /** Trims a stream's releasable entries, or deletes it (keeping its last id) when all are. */
  brokerSweepStream: { file: "sweep-stream.lua", numberOfKeys: 4 },
  /** Takes or renews the sweeper lock. */
  brokerSweeperLock: { file: "sweeper-lock.lua", numberOfKeys: 1 },
  /** Several entries of one stream by id, compacted to {body, publishedAt, expiresAt}. */
  brokerGetMany: { file: "get-many.lua", numberOfKeys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<ScriptName, string>();

/** The Lua source of a script (read once). */
export function scriptSource(name: ScriptName): string {
  let source = sources.get(name);
  if (source === undefined) {
    source = readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), "utf8");
    sources.set(name, source);
  }
  return source;
}

/** Defines the named scripts (all of them by default) as commands on a connection. */
export function defineScripts(redis: Pick<Redis, "defineCommand">, names?: readonly ScriptName[]): void {
  for (const name of names ?? (Object.keys(SCRIPTS) as ScriptName[])) {
    redis.defineCommand(name, { numberOfKeys: SCRIPTS[name].numberOfKeys, lua: scriptSource(name) });
  }
}
