import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { freePort } from "../../../test/support/node-process.js";
import { SERVER_CPUS, stopChild } from "../servers.js";

/** A server process the side-by-side runs own: started on a free port in a temp dir, pinned to SERVER_CPUS. */
export interface PrivateServer {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

/**
 * nats-server with JetStream, its store in a temp dir removed at stop. Memory
 * or file storage is a per-stream setting, so one server serves both.
 */
export async function startNatsServer(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-nats-"));
  const child = spawnPinned(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir]);
  return started("nats-server", child, port, `nats://127.0.0.1:${port}`, dir, /Server is ready/);
}

/**
 * A redis-server of the gateway's own in the side-by-side runs (no persistence, as the shared one),
 * so its CPU can be counted with the gateway's and no other engineer's traffic lands in it.
 */
export async function startRedisServer(): Promise<PrivateServer> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no"];
  const child = spawnPinned("redis-server", args);
  const server = await started("redis-server", child, port, `redis://127.0.0.1:${port}`, dir, /Ready to accept/);
  // Answering commands, not only logging readiness.
  const probe = new Redis(server.url, { protocol: 2, maxRetriesPerRequest: 3 });
  try {
    await probe.ping();
  } finally {
    probe.disconnect();
  }
  return server;
}

/**
 * Starts the command on SERVER_CPUS from its first instruction (taskset execs it, so the pid is the
 * server's): the Go runtime sizes GOMAXPROCS from the CPUs it may use at start.
 */
function spawnPinned(command: string, args: string[]): ChildProcess {
  const pinned = hasTaskset();
  return spawn(pinned ? "taskset" : command, pinned ? ["-c", SERVER_CPUS, command, ...args] : args, {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

let taskset: boolean | undefined;
function hasTaskset(): boolean {
  if (taskset === undefined) {
    try {
      execFileSync("taskset", ["-V"], { stdio: "ignore" });
      taskset = true;
    } catch {
      taskset = false;
    }
  }
  return taskset;
}

async function started(
  name: string,
  child: ChildProcess,
  port: number,
  url: string,
  dir: string,
  ready: RegExp,
): Promise<PrivateServer> {
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  let output = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready within 15 s: ${output}`)), 15_000);
      const onData = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
        if (ready.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code}: ${output}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // Keep draining its output so it never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return { pid: child.pid as number, port, url, stop };
}
