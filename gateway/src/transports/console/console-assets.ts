import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { projectRoot } from "../../process/project-root.js";

/** One built file of the web console, held in memory with its gzipped form. */
export interface ConsoleAsset {
  readonly contentType: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

/** URL path -> asset; empty when the console has not been built. */
export type ConsoleAssets = ReadonlyMap<string, ConsoleAsset>;

/** The files `npm run build` writes to dist/console (see console/build.ts) and the paths that serve them. */
const FILES: readonly { readonly file: string; readonly paths: readonly string[]; readonly contentType: string }[] = [
  { file: "index.html", paths: ["/", "/index.html"], contentType: "text/html; charset=utf-8" },
  { file: "console.js", paths: ["/console.js"], contentType: "text/javascript; charset=utf-8" },
  { file: "console.css", paths: ["/console.css"], contentType: "text/css; charset=utf-8" },
  { file: "favicon.svg", paths: ["/favicon.svg"], contentType: "image/svg+xml" },
];

/** dist/console under the project root, whether the gateway runs from dist/ (npm start) or from source (tsx). */
export function defaultConsoleDir(): string {
  return path.join(projectRoot(import.meta.url), "dist", "console");
}

/**
 * Reads the console once at start-up: a few small files, so every request is
 * answered from memory. A missing build yields an empty map, and the handler
 * says how to build it.
 */
export async function loadConsoleAssets(dir: string = defaultConsoleDir()): Promise<ConsoleAssets> {
  const assets = new Map<string, ConsoleAsset>();
  if (!existsSync(path.join(dir, "index.html"))) return assets;
  for (const { file, paths, contentType } of FILES) {
    const body = await readFile(path.join(dir, file));
    const asset: ConsoleAsset = {
      contentType,
      body,
      gzipped: gzipSync(body, { level: 9 }),
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
    };
    for (const urlPath of paths) assets.set(urlPath, asset);
  }
  return assets;
}
