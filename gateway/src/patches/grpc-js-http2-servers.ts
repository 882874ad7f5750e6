import { EventEmitter } from "node:events";
import type { Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";
import { patchEnabled } from "./index.js";
import { useYoungStreamTables } from "./node-http2-stream-tables.js";

/**
 * Patch: @grpc/grpc-js 1.14.7, the private `Server.http2Servers` (a Map from
 * each bound http2 server to `{ sessions: Set<Http2Session>, ... }`).
 *
 * grpc-js creates its http2 servers itself and never exposes them, so this is
 * the only way to reach its sessions before their first stream, which the
 * node-http2-stream-tables patch needs. Its gain is that patch's (measured
 * there); this one alone gains nothing. Shape test: test/patches.test.ts.
 * Off: grpc-js's sessions keep node's own tables.
 */

/** The http2 servers of a bound grpc-js server, with their open sessions (whatever the switch says). */
export function http2ServersOf(server: Server): Map<EventEmitter, { sessions?: Set<Http2Session> }> | undefined {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  return servers instanceof Map ? (servers as Map<EventEmitter, { sessions?: Set<Http2Session> }>) : undefined;
}

/**
 * Gives each HTTP/2 session of a bound grpc-js server stream tables that let
 * finished calls die young. Used by the gateway and by the bench's no-op
 * server, so both run the same gRPC stack.
 */
export function useYoungStreamTablesOnGrpcServer(server: Server): void {
  if (!patchEnabled("grpc-js-http2-servers")) return;
  for (const [http2Server, info] of http2ServersOf(server) ?? []) {
    if (!(http2Server instanceof EventEmitter)) continue;
    // Before grpc-js's own listener; a session's first stream comes later.
    http2Server.prependListener("session", useYoungStreamTables);
    for (const session of info.sessions ?? []) useYoungStreamTables(session);
  }
}
