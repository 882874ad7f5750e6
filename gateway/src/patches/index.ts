import { ConfigError, type Env } from "../process/env.js";

/**
 * The switch for gateway/src/patches/: each file there reaches into another
 * library's private internals (or undocumented behaviour). Those below do it
 * for speed, and their callers fall back to the library's public path when
 * the patch is off. Two have no public path and stay on whatever the switch
 * says: connect-node-early-headers and ioredis-command-hook. docs/patches.md
 * lists them all, with versions and measured gains.
 *
 * GATEWAY_PATCHES:
 *   on (default)  every patch
 *   off           none: the plain public-library path everywhere
 *   a,b           exactly the named patches (the bench measures one at a time)
 *
 * Read when a caller is built (a server, an engine, a connection), never per
 * call; a wrong value stops the process (config.ts reads it at start).
 */
export const PATCHES = [
  "grpc-js-server-call",
  "grpc-js-http2-servers",
  "node-http2-stream-tables",
  "ioredis-corked-socket",
  "pg-point-lookup",
  "prom-client-label-free-histogram",
] as const;

export type PatchName = (typeof PATCHES)[number];

const VARIABLE = "GATEWAY_PATCHES";

/** The patches a GATEWAY_PATCHES value turns on; throws, naming the variable, on anything else. */
export function parsePatches(value: string | undefined): ReadonlySet<PatchName> {
  const text = (value ?? "").trim();
  if (text === "" || text === "on") return new Set(PATCHES);
  if (text === "off") return new Set();
  const names = text.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !(PATCHES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new ConfigError(
      `${VARIABLE} must be on, off or a list of ${PATCHES.join(", ")}; unknown: ${unknown.join(", ")}`,
    );
  }
  return new Set(names as PatchName[]);
}

/** Whether `name` is on in this process (GATEWAY_PATCHES, read each time: tests switch it). */
export function patchEnabled(name: PatchName, env: Env = process.env): boolean {
  return parsePatches(env[VARIABLE]).has(name);
}
