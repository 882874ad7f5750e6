import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The project's root (the folder with package.json) above a module, so files
 * beside the code (migrations, the built console) are found the same way
 * whether the code runs from source (tsx) or from dist/ (npm start, Docker).
 */
export function projectRoot(moduleUrl: string): string {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the project root (package.json) above ${moduleUrl}`);
    dir = parent;
  }
  return dir;
}
