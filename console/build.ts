import { copyFile, mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/**
 * Bundles the web console into dist/console: index.html, console.js (the page
 * script with its Connect / gRPC-Web client, minified), console.css (minified)
 * and favicon.svg.
 * Run by `npm run build`; the gateway serves whatever is in that folder.
 */
const root = path.dirname(fileURLToPath(import.meta.url));
const source = path.join(root, "src");
const out = path.join(root, "..", "dist", "console");

await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [
    { in: path.join(source, "main.ts"), out: "console" },
    { in: path.join(source, "style.css"), out: "console" },
  ],
  outdir: out,
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome100", "firefox100", "safari15"],
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "favicon.svg"]) await copyFile(path.join(source, file), path.join(out, file));

const sizes = await Promise.all(
  ["index.html", "console.js", "console.css", "favicon.svg"].map(
    async (name) => `${name} ${(await stat(path.join(out, name))).size} B`,
  ),
);
console.log(`console built in dist/console: ${sizes.join(", ")}`);
