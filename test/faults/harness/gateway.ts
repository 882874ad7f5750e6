import { existsSync, readFileSync } from "node:fs";
import { GatewayProcess, residentBytes } from "../../support/gateway-process.js";
import { freePort } from "../../support/node-process.js";

/**
 * The gateway as a process on ports that stay the same across kills and
 * restarts, so clients reconnect to where they were.
 */
export class FaultGateway {
  private process: GatewayProcess | undefined;
  /** Highest resident memory of any one gateway process seen by sampleMemory. */
  peakRssBytes = 0;

  private constructor(
    readonly grpcPort: number,
    readonly httpPort: number,
    private readonly env: Record<string, string>,
    readonly workers: number,
  ) {}

  static async start(env: Record<string, string>, workers: number): Promise<FaultGateway> {
    const gateway = new FaultGateway(await freePort(), await freePort(), env, workers);
    await gateway.restart();
    return gateway;
  }

  async restart(): Promise<void> {
    const child = new GatewayProcess({
      GRPC_PORT: String(this.grpcPort),
      HTTP_PORT: String(this.httpPort),
      WORKERS: String(this.workers),
      METRICS_PORT: "0",
      // Small subscriber buffers, so the slow subscriber really falls behind and catches up from storage.
      SUBSCRIBER_BUFFER_MESSAGES: "100",
      SUBSCRIBER_BUFFER_BYTES: "131072",
      ...this.env,
    });
    this.process = child;
    // Generous: on a starved shared machine tsx may take a minute to load the workers.
    await child.waitForLog("gateway listening", this.workers, 120_000);
  }

  /** The primary (or single) process and its workers, as /proc shows them now. */
  pids(): { primary: number; workers: number[] } {
    const primary = this.requireProcess().pid;
    const childrenFile = `/proc/${primary}/task/${primary}/children`;
    const workers = existsSync(childrenFile)
      ? readFileSync(childrenFile, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
      : [];
    return { primary, workers };
  }

  /** kill -9 one worker; the primary starts another. Resolves when the replacement listens. */
  async killOneWorker(): Promise<number> {
    const [victim] = this.pids().workers;
    if (victim === undefined) throw new Error("no worker to kill");
    const listening = this.requireProcess().logs.filter((line) => line.msg === "gateway listening").length;
    process.kill(victim, "SIGKILL");
    await this.requireProcess().waitForLog("gateway listening", listening + 1, 120_000);
    return victim;
  }

  /** kill -9 the primary and every worker at once. */
  async killAll(): Promise<void> {
    const child = this.requireProcess();
    const { primary, workers } = this.pids();
    for (const pid of [primary, ...workers]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await child.exited;
    await waitUntilGone(workers);
  }

  /** SIGTERM (drain); resolves with the exit code once the process has exited. */
  async drain(): Promise<{ code: number | null; ms: number }> {
    const child = this.requireProcess();
    const { workers } = this.pids();
    const started = Date.now();
    child.signal("SIGTERM");
    const { code } = await child.exited;
    await waitUntilGone(workers);
    return { code, ms: Date.now() - started };
  }

  /** Samples the resident memory of every gateway process (primary and workers). */
  sampleMemory(): void {
    if (!this.process || this.process.hasExited) return;
    const { primary, workers } = this.pids();
    for (const pid of [primary, ...workers]) {
      try {
        this.peakRssBytes = Math.max(this.peakRssBytes, residentBytes(pid));
      } catch {
        // It exited between the listing and the read.
      }
    }
  }

  async stop(): Promise<void> {
    await this.process?.stop(10_000);
  }

  private requireProcess(): GatewayProcess {
    if (!this.process) throw new Error("gateway not started");
    return this.process;
  }
}

async function waitUntilGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some((pid) => existsSync(`/proc/${pid}`)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
