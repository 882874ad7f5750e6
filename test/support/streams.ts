import type { MessageResponse } from "../../gateway/gen/broker/broker_pb.js";
import type { BrokerClient } from "./clients.js";

/**
 * An open Subscribe stream for tests: `live` resolves when the response
 * headers arrive (the broker's promise that the subscription is registered),
 * and `take(n)` waits for the next n messages.
 */
export class TestSubscription {
  readonly received: MessageResponse[] = [];
  readonly live: Promise<void>;
  readonly finished: Promise<unknown>;
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];

  constructor(client: BrokerClient, subject: string) {
    let onLive!: () => void;
    this.live = new Promise((resolve) => {
      onLive = resolve;
    });
    const stream = client.subscribe({ subject }, { signal: this.abort.signal, onHeader: () => onLive() });
    this.finished = (async () => {
      try {
        for await (const message of stream) {
          this.received.push(message);
          for (const wake of this.waiters.splice(0)) wake();
        }
        return undefined;
      } catch (err) {
        return err;
      } finally {
        for (const wake of this.waiters.splice(0)) wake();
      }
    })();
  }

  /** Waits until at least `count` messages arrived in total. */
  async waitFor(count: number, timeoutMs = 10_000): Promise<MessageResponse[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out with ${this.received.length} of ${count} messages`);
      let timer: NodeJS.Timeout | undefined;
      const settled = await Promise.race([
        new Promise<"more">((resolve) => this.waiters.push(() => resolve("more"))),
        this.finished.then(() => "ended" as const),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), left);
        }),
      ]);
      clearTimeout(timer);
      if (settled === "ended" && this.received.length < count) {
        throw new Error(
          `stream ended with ${this.received.length} of ${count} messages: ${String(await this.finished)}`,
        );
      }
    }
    return this.received.slice(0, count);
  }

  close(): void {
    this.abort.abort();
  }
}

export async function subscribeLive(client: BrokerClient, subject: string): Promise<TestSubscription> {
  const subscription = new TestSubscription(client, subject);
  await Promise.race([
    subscription.live,
    subscription.finished.then((err) => {
      throw new Error(`subscription ended before it was live: ${String(err)}`);
    }),
  ]);
  return subscription;
}

export const text = (body: Uint8Array): string => Buffer.from(body).toString("utf8");
export const bytes = (value: string): Uint8Array => new Uint8Array(Buffer.from(value, "utf8"));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
