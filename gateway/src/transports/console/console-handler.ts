import type { HttpHandler, NodeRequest, NodeResponse } from "../connect/http-server.js";
import type { ConsoleAsset, ConsoleAssets } from "./console-assets.js";

/** The page talks only to the gateway that served it. */
const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const NOT_BUILT = "The web console has not been built: run `npm run build` (or `npm start`), then reload.\n";
const CONSOLE_PATHS = new Set(["/", "/index.html", "/console.js", "/console.css", "/favicon.svg"]);

/**
 * Serves the web console's files at `/`. It sits in connect-node's fallback,
 * so only requests the broker's routes do not match ever reach it; any path
 * or method it does not serve goes to `next`.
 */
export function consoleHandler(assets: ConsoleAssets, next: HttpHandler): HttpHandler {
  return (request, response) => {
    const urlPath = (request.url ?? "/").split("?", 1)[0] ?? "/";
    if ((request.method !== "GET" && request.method !== "HEAD") || !CONSOLE_PATHS.has(urlPath)) {
      next(request, response);
      return;
    }
    const asset = assets.get(urlPath);
    if (!asset) {
      response.statusCode = 503;
      response.setHeader("content-type", "text/plain; charset=utf-8");
      endWith(request, response, NOT_BUILT);
      return;
    }
    serve(request, response, asset);
  };
}

function serve(request: NodeRequest, response: NodeResponse, asset: ConsoleAsset): void {
  response.setHeader("content-type", asset.contentType);
  // Revalidate every time: a rebuilt console must not be mixed with a cached one.
  response.setHeader("cache-control", "no-cache");
  response.setHeader("etag", asset.etag);
  response.setHeader("vary", "accept-encoding");
  response.setHeader("x-content-type-options", "nosniff");
  response.setHeader("content-security-policy", CONTENT_SECURITY_POLICY);
  if (request.headers["if-none-match"] === asset.etag) {
    response.statusCode = 304;
    response.end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
  const body = gzip ? asset.gzipped : asset.body;
  if (gzip) response.setHeader("content-encoding", "gzip");
  response.setHeader("content-length", body.length);
  response.statusCode = 200;
  endWith(request, response, body);
}

function endWith(request: NodeRequest, response: NodeResponse, body: string | Buffer): void {
  if (request.method === "HEAD") response.end();
  else response.end(body);
}
