import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium (.ci/run installs it when missing); Playwright never downloads a browser here. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * The flags this machine needs: no sandbox (tests run as root), and nothing
 * that phones home, since the network beyond loopback is closed.
 */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh, empty profile that `close` removes. */
export async function launchChromium(): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), "console-chromium-"));
  // A persistent context is how Playwright takes a --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const projectRoot = path.resolve(import.meta.dirname, "..", "..");

/** Builds dist/console exactly as `npm run build` does, so tests serve the real assets. */
export async function buildConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, ["--import", "tsx", path.join(projectRoot, "console", "build.ts")], {
    cwd: projectRoot,
  });
}
