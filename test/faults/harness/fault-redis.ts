import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../../support/node-process.js";

export type Fsync = "always" | "everysec";

/**
 * A redis-server of the fault suite's own, with AOF, that can be shut down,
 * killed (-9), frozen (SIGSTOP) and restarted on the same port and directory.
 */
export class FaultRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
    private fsyncMode: Fsync,
  ) {}

  static async start(fsync: Fsync): Promise<FaultRedis> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "broker-faults-redis-"));
    const redis = new FaultRedis(await freePort(), dir, fsync);
    await redis.startServer();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get fsync(): Fsync {
    return this.fsyncMode;
  }

  /** Changes appendfsync now (CONFIG SET) and for every later restart. */
  async setFsync(mode: Fsync): Promise<void> {
    const client = this.connect();
    try {
      await client.config("SET", "appendfsync", mode);
    } finally {
      client.disconnect();
    }
    this.fsyncMode = mode;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async startServer(): Promise<void> {
    if (this.child) return;
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir, "--save", ""];
    args.push("--appendonly", "yes", "--appendfsync", this.fsyncMode, "--logfile", path.join(this.dir, "redis.log"));
    const child = spawn("redis-server", args, { stdio: "ignore" });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    await this.waitForPing(child);
  }

  /** SHUTDOWN (redis-server's SIGTERM handler: fsyncs the AOF and exits). */
  async shutdown(): Promise<void> {
    await this.signalAndWait("SIGTERM");
  }

  /** kill -9: whatever the AOF had not fsynced is gone. */
  async kill(): Promise<void> {
    await this.signalAndWait("SIGKILL");
  }

  /** The append-only file Redis 7 is appending to now (appendonlydir/*.incr.aof). */
  incrementalAof(): string {
    const dir = path.join(this.dir, "appendonlydir");
    const files = readdirSync(dir).filter((name) => name.endsWith(".incr.aof"));
    const newest = files.sort((a, b) => statSync(path.join(dir, b)).mtimeMs - statSync(path.join(dir, a)).mtimeMs)[0];
    if (!newest) throw new Error(`no incremental AOF in ${dir}`);
    return path.join(dir, newest);
  }

  aofBytes(): number {
    return statSync(this.incrementalAof()).size;
  }

  /**
   * What an OS crash does to an everysec AOF: the writes after the last fsync
   * are gone. kill -9 alone loses nothing (the kernel still has the pages), so
   * after the kill the file is cut back to `bytes` (its size about a second
   * earlier); Redis loads the truncated file (aof-load-truncated yes).
   * Returns the bytes cut off.
   */
  async crash(bytes: number): Promise<Buffer> {
    await this.kill();
    const file = this.incrementalAof();
    const content = readFileSync(file);
    truncateSync(file, Math.min(bytes, content.length));
    // What the cut removed: the commands (and the message bodies in them) Redis will not load.
    return content.subarray(Math.min(bytes, content.length));
  }

  freeze(): void {
    this.child?.kill("SIGSTOP");
  }

  thaw(): void {
    this.child?.kill("SIGCONT");
  }

  async flushAll(): Promise<void> {
    const client = this.connect();
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  connect(): Redis {
    return new Redis(this.url, { protocol: 2, connectionName: "faults-inspector", maxRetriesPerRequest: 1 });
  }

  async destroy(): Promise<void> {
    this.thaw();
    await this.signalAndWait("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.exited;
  }

  private async waitForPing(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with ${child.exitCode}`);
      const probe = new Redis(this.url, { protocol: 2, lazyConnect: true, retryStrategy: () => null });
      probe.on("error", () => {});
      try {
        await probe.connect();
        // LOADING while the AOF is replayed: wait until it answers PING.
        if ((await probe.ping()) === "PONG") return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not start: ${String(err)}`);
      } finally {
        probe.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
