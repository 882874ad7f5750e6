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
  private readonly drainListeners: (() => void)[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly broker: Broker,
  ) {}

  startDrain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const listener of this.drainListeners) listener();
  }

  /** Called once, when the drain starts. */
  onDrain(listener: () => void): void {
    this.drainListeners.push(listener);
  }

  readiness(): Readiness {
    if (this.draining || !this.broker.isAccepting) return { ready: false, reason: "draining" };
    if (this.engine.isReachable && !this.engine.isReachable()) return { ready: false, reason: "storage unreachable" };
    return { ready: true, reason: "ok" };
  }
}
