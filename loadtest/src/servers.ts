import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { deleteGatewayKeys } from "../../test/support/services.js";
import { pinToCpus } from "./proc.js";

/** Where the runner's own servers run: one core; the client runs on the other (see measurements.md). */
export const SERVER_CPUS = process.env.BENCH_SERVER_CPUS ?? "0";
export const CLIENT_CPUS = process.env.BENCH_CLIENT_CPUS ?? "1";

export interface ServerProcess {
  readonly name: string;
  readonly address: string;
  /** The process serving the port (for CPU, RSS and socket readings); undefined for a remote target. */
  readonly pid: number | undefined;
  readonly redisKeyPrefix: string | undefined;
  /** host:port of its Prometheus endpoint (GC readings); undefined for a remote target. */
  readonly metricsAddress?: string;
  stop(): Promise<void>;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/** Extra node flags for server children, e.g. BENCH_SERVER_NODE_ARGS=--cpu-prof to profile them. */
export function serverNodeArgs(): string[] {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
}

/**
 * Starts an entry point as a child pinned to SERVER_CPUS and waits for the
 * JSON log line carrying its gRPC port (and its metrics port): built
 * JavaScript as is, TypeScript through tsx.
 */
async function startChild(name: string, entry: string, env: Record<string, string>): Promise<ServerProcess> {
  const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...serverNodeArgs(), ...loader, entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) pinToCpus(child.pid, SERVER_CPUS);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let metricsPort: number | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s: ${stderr}`)), 30_000);
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split("\n").slice(0, -1)) {
        try {
          const parsed = JSON.parse(line) as { grpcPort?: number; metricsPort?: number };
          if (typeof parsed.grpcPort === "number" && parsed.grpcPort > 0) {
            if (typeof parsed.metricsPort === "number") metricsPort = parsed.metricsPort;
            clearTimeout(timer);
            resolve(parsed.grpcPort);
          }
        } catch {
          // Not a JSON log line.
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();
  let stopping = false;
  child.once("exit", (code, signal) => {
    // A server dying mid-run is a finding, not noise: say so with what it printed.
    if (!stopping) process.stderr.write(`\n${name} exited unexpectedly (code ${code}, signal ${signal}): ${stderr}\n`);
  });
  return {
    name,
    address: `127.0.0.1:${port}`,
    ...(metricsPort === undefined ? {} : { metricsAddress: `127.0.0.1:${metricsPort}` }),
    pid: child.pid,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    stop: () => {
      stopping = true;
      return stopChild(child);
    },
  };
}

/** SIGTERM, then SIGKILL after 10 s; resolves when the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export function startNoopServer(): Promise<ServerProcess> {
  return startChild("no-op gRPC server", "loadtest/src/noop-server.ts", { GRPC_PORT: "0" });
}

let built = false;

/**
 * Gateways run as `npm start` runs them: the tsc build of the current
 * source (tsx would add some 30 MiB of RSS and a loader thread that
 * production never has). Built once per bench run (gateway, archiver and
 * console, as `npm start` builds them), in about a second.
 */
export function buildGatewayOnce(): void {
  if (built) return;
  execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  built = true;
}

export type EngineName = "memory" | "redis" | "redis+archive";

/** Starts the gateway (one worker process) on free ports with its own Redis key prefix. */
export async function startGateway(
  engine: EngineName,
  redisUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const prefix = `bench:${randomUUID().slice(0, 8)}:`;
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    GRPC_PORT: "0",
    HTTP_PORT: "0",
    WORKERS: "1",
    // Any free port: the bench runs several gateways at once.
    METRICS_PORT: "0",
    REDIS_URL: engine === "memory" ? "" : redisUrl,
    REDIS_KEY_PREFIX: prefix,
    ...extraEnv,
  };
  buildGatewayOnce();
  // The gateway opens its ports only once Redis answers (Gateway.start), so listening means ready.
  const server = await startChild(`gateway (${engine})`, "dist/gateway/src/main.js", env);
  return {
    ...server,
    redisKeyPrefix: engine === "memory" ? undefined : prefix,
    stop: async () => {
      await server.stop();
      // Its streams and its subject registry (the tests' cleanup, shared).
      if (engine !== "memory") await deleteGatewayKeys(redisUrl, prefix);
    },
  };
}

/** A gateway someone else runs (`--target host:port`): no CPU or memory readings. */
export function remoteTarget(address: string): ServerProcess {
  return { name: `target ${address}`, address, pid: undefined, redisKeyPrefix: undefined, stop: async () => {} };
}
