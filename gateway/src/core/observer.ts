import type { StoredMessage } from "./message.js";

/**
 * What the core reports to whoever watches it (metrics, in practice), so the
 * core never imports a metrics library. Calls are synchronous and cheap; an
 * observer must not throw.
 */
export interface BrokerObserver {
  /** Messages were stored (after the engine acknowledged them). */
  published(count: number): void;
  /** A subscription handed a message to its transport, which writes it now. */
  delivered(message: StoredMessage): void;
  /** A live subscription overflowed its buffer and switched to catching up from storage. */
  subscriberFellBehind(): void;
  /** A subscription was ended because storage no longer holds what it still had to send. */
  subscriberTerminated(): void;
}

export const NO_OBSERVER: BrokerObserver = {
  published() {},
  delivered() {},
  subscriberFellBehind() {},
  subscriberTerminated() {},
};
