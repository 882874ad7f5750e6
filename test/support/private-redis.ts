import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./node-process.js";

/**
 * A redis-server of the test's own, for tests that stop, restart or count the
 * clients of Redis without disturbing the shared one. With `appendonly` its
 * data survives a restart (every write fsynced).
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly appendonly: boolean,
    private readonly extraArgs: readonly string[],
  ) {}

  /** `args`: more redis-server options, e.g. ["--cluster-enabled", "yes"]. */
  static async start(options: { appendonly?: boolean; args?: readonly string[] } = {}): Promise<PrivateRedis> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "broker-test-redis-"));
    const redis = new PrivateRedis(await freePort(), dir, options.appendonly ?? false, options.args ?? []);
    await redis.startServer();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get isRunning(): boolean {
    return this.child !== undefined;
  }

  /** Stops the server (a clean SHUTDOWN on SIGTERM, which flushes the append-only file). */
  async stopServer(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port and directory. */
  async startServer(): Promise<void> {
    if (this.child) return;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", ""];
    args.push("--appendonly", this.appendonly ? "yes" : "no", "--appendfsync", "always", ...this.extraArgs);
    const child = spawn("redis-server", args, { stdio: "ignore" });
    this.child = child;
    const failed = new Promise<never>((_, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
    });
    failed.catch(() => {});
    await Promise.race([this.waitForPing(), failed]);
  }

  /** Stops the server and removes its directory (cleanup). */
  async destroy(): Promise<void> {
    await this.stopServer();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A plain connection for the test's own inspection; disconnect it when done. */
  connect(): Redis {
    return new Redis(this.url, { protocol: 2, connectionName: "test-inspector", maxRetriesPerRequest: 1 });
  }

  private async waitForPing(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const probe = new Redis(this.url, { protocol: 2, lazyConnect: true, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`private redis on ${this.port} did not start: ${String(err)}`);
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
