import type { Http2Session } from "node:http2";
import { types } from "node:util";
import { patchEnabled } from "./index.js";

/**
 * Patch: node:http2 (Node 20.20.2), a session's private state (the symbol
 * `state`: its `streams` Map and `pendingStreams` Set).
 *
 * Lets finished HTTP/2 calls die young. node:http2 (Node 20) keeps each
 * session's streams in a Map (`streams`) and a Set (`pendingStreams`) that
 * gain and lose an entry per call. V8 rebuilds such a hash table every few
 * insertions, and the table it replaces keeps a pointer to its successor (for
 * live iterators) and the entries it held. Every full GC promotes the current
 * table; once it is replaced it is dead but in old space, and the scavenger
 * takes its pointers as roots until the next full GC: every later table, every
 * stream they held, and the call objects, buffers and closures hanging from
 * those streams survive scavenges and are promoted. This is where grpc-js's
 * per-call objects in old space came from, even in a no-op server.
 *
 * The stand-ins below keep no such links (a dictionary-mode object and a small
 * array). They are swapped in when a session is created, before its first
 * stream; if this Node's internals differ from what is expected, the session
 * is left as it is.
 *
 * Measured 2026-12-03 (npm run bench:patches, no-op unary gRPC calls in
 * process, off/on/off/on, busy machine): 480-660 us of CPU per call against
 * 514-735 us, ratio 0.91: within the noise of that run. Shape test: test/patches.test.ts. Off: node's own tables.
 */
export function useYoungStreamTables(session: Http2Session): boolean {
  if (!patchEnabled("node-http2-stream-tables")) return false;
  return replaceStreamTables(session);
}

/** The replacement itself, whatever the switch says (the shape test uses it). */
export function replaceStreamTables(session: Http2Session): boolean {
  const state = sessionState(session);
  if (!state || !types.isMap(state.streams) || !types.isSet(state.pendingStreams)) return false;
  state.streams = new StreamsById(state.streams as Map<number, unknown>);
  state.pendingStreams = new PendingStreams(state.pendingStreams as Set<unknown>);
  return true;
}

export interface SessionState {
  streams: unknown;
  pendingStreams: unknown;
}

/** The session's private state object, where this Node has it. */
export function sessionState(session: Http2Session): SessionState | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) => symbol.description === "state");
  const state = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  return typeof state === "object" && state !== null ? (state as SessionState) : undefined;
}

/** The Map operations node:http2 uses on `streams`, keyed by stream id. */
export class StreamsById<V> {
  private readonly byId: Record<number, V> = Object.create(null);
  size = 0;

  constructor(entries: Iterable<[number, V]> = []) {
    for (const [id, value] of entries) this.set(id, value);
  }

  get(id: number): V | undefined {
    return this.byId[id];
  }

  has(id: number): boolean {
    return this.byId[id] !== undefined;
  }

  set(id: number, value: V): this {
    if (this.byId[id] === undefined) this.size += 1;
    this.byId[id] = value;
    return this;
  }

  delete(id: number): boolean {
    if (this.byId[id] === undefined) return false;
    delete this.byId[id];
    this.size -= 1;
    return true;
  }

  /** Entries deleted during the walk (streams destroying themselves) are skipped. */
  forEach(fn: (value: V, id: number, map: this) => void): void {
    for (const key in this.byId) {
      const value = this.byId[key as unknown as number];
      if (value !== undefined) fn(value, Number(key), this);
    }
  }
}

/** The Set operations node:http2 uses on `pendingStreams` (streams between creation and their id: few, briefly). */
export class PendingStreams<V> {
  private readonly items: V[] = [];

  constructor(values: Iterable<V> = []) {
    for (const value of values) this.add(value);
  }

  get size(): number {
    return this.items.length;
  }

  has(value: V): boolean {
    return this.items.includes(value);
  }

  add(value: V): this {
    if (!this.items.includes(value)) this.items.push(value);
    return this;
  }

  delete(value: V): boolean {
    const index = this.items.indexOf(value);
    if (index < 0) return false;
    const last = this.items.pop() as V;
    if (index < this.items.length) this.items[index] = last;
    return true;
  }

  /** Walks a copy: callers destroy the streams they are given, which removes them. */
  forEach(fn: (value: V, same: V, set: this) => void): void {
    for (const value of [...this.items]) fn(value, value, this);
  }
}
