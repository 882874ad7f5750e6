import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { freePort, ROOT, terminate } from "./node-process.js";

/**
 * The gateway as a child process (spawnGateway), with its JSON log lines parsed,
 * and what /proc says about such a process. Plain node child processes with
 * raw output are in node-process.ts.
 */

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly pid: number;
  readonly [field: string]: unknown;
}

/**
 * A gateway started as its own process (gateway/src/main.ts through tsx's
 * loader, so the pid is the gateway itself and signals reach it directly).
 */
export class GatewayProcess {
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ["--import", "tsx", "gateway/src/main.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let pending = "";
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          this.stderr.push(`unparsed stdout: ${line}`);
        }
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.stderr?.setEncoding("utf8").on("data", (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        for (const wake of this.waiters.splice(0)) wake();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Waits until `count` log lines with this message were printed; returns them. */
  async waitForLog(msg: string, count = 1, timeoutMs = 20_000): Promise<LogLine[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs.filter((line) => line.msg === msg);
      if (found.length >= count) return found;
      if (this.hasExited || Date.now() > deadline) {
        throw new Error(
          `gateway did not log '${msg}' ${count} time(s); logs: ${JSON.stringify(this.logs)} stderr: ${this.stderr.join("")}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  /** Cleanup: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    await terminate(this.child, this.exited, graceMs);
  }
}

export interface StartedGateway {
  readonly process: GatewayProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Pids of the processes serving (the workers, or the process itself). */
  readonly servingPids: number[];
}

/** Spawns a gateway on free ports and waits until every worker listens. */
export async function spawnGateway(env: Record<string, string>, workers = 1): Promise<StartedGateway> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const child = new GatewayProcess({
    GRPC_PORT: String(grpcPort),
    HTTP_PORT: String(httpPort),
    WORKERS: String(workers),
    // Any free port: several gateways (and other tests) run at once.
    METRICS_PORT: "0",
    ...env,
  });
  try {
    const listening = await child.waitForLog("gateway listening", workers);
    for (const line of listening) {
      if (line.grpcPort !== grpcPort || line.httpPort !== httpPort) {
        throw new Error(`worker ${line.pid} listens on unexpected ports: ${JSON.stringify(line)}`);
      }
    }
    return { process: child, grpcPort, httpPort, servingPids: listening.map((line) => line.pid) };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** Resident memory of a process in bytes, from /proc. */
export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Established TCP connections a process holds whose local port is `localPort`
 * (e.g. clients accepted on a listening port), from /proc.
 */
export function acceptedConnections(pid: number, localPort: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const state = cols[3];
      const inode = cols[9];
      if (!local || !inode || state !== "01") continue; // 01: ESTABLISHED
      const port = Number.parseInt(local.split(":")[1] ?? "", 16);
      if (port === localPort && inodes.has(inode)) count += 1;
    }
  }
  return count;
}
