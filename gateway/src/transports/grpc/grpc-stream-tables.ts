import { EventEmitter } from "node:events";
import type { Http2Session } from "node:http2";
import type { Server } from "@grpc/grpc-js";
import { useYoungStreamTables } from "../http2-stream-tables.js";

/**
 * Gives each HTTP/2 session of a bound grpc-js server stream tables that let
 * finished calls die young (see http2-stream-tables.ts). grpc-js keeps its
 * http2 servers private: if that field is not there, sessions keep node's own
 * tables. Used by the gateway and by the bench's no-op server, so both run
 * the same gRPC stack.
 */
export function useYoungStreamTablesOnGrpcServer(server: Server): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const [http2Server, info] of servers as Map<unknown, { sessions?: Set<Http2Session> }>) {
    if (!(http2Server instanceof EventEmitter)) continue;
    // Before grpc-js's own listener; a session's first stream comes later.
    http2Server.prependListener("session", useYoungStreamTables);
    for (const session of info.sessions ?? []) useYoungStreamTables(session);
  }
}
