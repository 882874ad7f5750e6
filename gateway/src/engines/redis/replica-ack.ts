import { type Cluster, Command, type Redis } from "ioredis";
import { unavailable } from "../../core/errors.js";
import { isCluster } from "../../storage/redis-target.js";

/**
 * REDIS_MIN_REPLICAS_ACK: a write is acknowledged only once Redis says at
 * least `replicas` replicas have it (WAIT), so a failover to one of them
 * cannot lose it. WAIT covers every earlier write on the connection, so the
 * writes whose replies arrived in the same turn share one WAIT, per master
 * on a cluster (sent to the master serving the slot, on the connection the
 * writes went over). When fewer replicas confirm within `timeoutMs` the
 * publish fails with UNAVAILABLE — the message IS stored (a retry with the
 * same idempotency key returns its id), only its replication is unconfirmed.
 */
export class ReplicaAck {
  private readonly pending = new Map<number, Promise<void>>();

  constructor(
    private readonly commands: Redis | Cluster,
    private readonly replicas: number,
    private readonly timeoutMs: number,
  ) {}

  /** Resolves once the writes done so far on `slot`'s master are on enough replicas. */
  after(slot: number): Promise<void> {
    const group = isCluster(this.commands) ? slot : 0;
    let waiting = this.pending.get(group);
    if (!waiting) {
      waiting = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.pending.delete(group);
        return this.wait(slot);
      });
      this.pending.set(group, waiting);
    }
    return waiting;
  }

  private async wait(slot: number): Promise<void> {
    const command = new Command("wait", [this.replicas, this.timeoutMs], { replyEncoding: "utf8" });
    if (isCluster(this.commands)) this.commands.sendCommand(command, undefined, { slot });
    else this.commands.sendCommand(command);
    const confirmed = Number(await command.promise);
    if (confirmed < this.replicas) {
      throw unavailable(
        `stored, but only ${confirmed} of ${this.replicas} replicas confirmed it within ${this.timeoutMs} ms (REDIS_MIN_REPLICAS_ACK)`,
      );
    }
  }
}
