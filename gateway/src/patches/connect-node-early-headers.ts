import type { NodeResponse } from "../transports/connect/http-server.js";

/**
 * Patch: @connectrpc/connect-node 2.1.2, undocumented behaviour of
 * `universalResponseToNodeResponse` (node-universal-handler.js): it calls the
 * Node response's writeHead(status, headers) exactly once, after the
 * handler's first message, and only then writes the body.
 *
 * The broker promises that a Subscribe stream is live once its headers
 * arrive, but connect-node commits headers only with the first message, and
 * no public option sends them earlier. So the head is sent here, and the
 * response's writeHead is replaced by a no-op for connect-node's later call
 * (the head is already on the wire; trailers, which carry gRPC's status, are
 * written apart). Not a speed patch: without it a Connect / gRPC-Web Subscribe
 * cannot keep that promise, so GATEWAY_PATCHES=off leaves it on.
 * Shape test: test/patches.test.ts (connect-node calls writeHead once, before the first message).
 */
export function commitHeadEarly(response: NodeResponse, contentType: string): void {
  if (response.headersSent) return;
  response.statusCode = 200;
  response.setHeader("content-type", contentType);
  // HTTP/2 sends the head at once; HTTP/1.1 holds it until flushed.
  if ("flushHeaders" in response) response.flushHeaders();
  else response.writeHead(200);
  const writeHead = () => response;
  (response as { writeHead: unknown }).writeHead = writeHead;
}
