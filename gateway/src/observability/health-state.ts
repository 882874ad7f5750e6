import type { Broker } from "../core/broker.js";
import type { Engine } from "../core/engine.js";

export interface Readiness {
  readonly ready: boolean;
  /** Why not, for /readyz's body and the logs. */
  readonly reason: string;
}

/**
 * Liveness and readiness of one gateway process. Ready means storage is
 * reachable and the gateway is not draining; a drain turns it false first,
 * before anything stops, so load balancers stop sending new calls.
 */
export class HealthState {
  private draining = false;

  constructor(
    private readonly engine: Engine,
    private readonly broker: Broker,
  ) {}

  startDrain(): void {
    this.draining = true;
  }

  readiness(): Readiness {
    if (this.draining || !this.broker.isAccepting) return { ready: false, reason: "draining" };
    if (this.engine.isReachable && !this.engine.isReachable()) return { ready: false, reason: "storage unreachable" };
    const problem = this.engine.notReadyReason?.();
    if (problem) return { ready: false, reason: problem };
    return { ready: true, reason: "ok" };
  }

  /**
   * Calls `changed` whenever readiness changes (looked at every `intervalMs`),
   * so a gateway that stops being ready says why in its log; returns a stop
   * function.
   */
  watch(changed: (readiness: Readiness) => void, intervalMs = 1_000): () => void {
    let last = this.readiness();
    if (!last.ready) changed(last);
    const timer = setInterval(() => {
      const now = this.readiness();
      if (now.ready !== last.ready || now.reason !== last.reason) changed(now);
      last = now;
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
