import { LogThrottle } from "../process/log-throttle.js";
import type { Engine } from "./engine.js";
import { type BrokerError, dataLoss } from "./errors.js";
import { type Log, SILENT_LOG } from "./log.js";
import type { StoredMessage } from "./message.js";
import { type BrokerObserver, NO_OBSERVER } from "./observer.js";
import { storageGaveUp } from "./read-retry.js";
import {
  type CatchUpSource,
  type GapPolicy,
  Subscription,
  type SubscriptionHooks,
  type SubscriptionOptions,
} from "./subscription.js";

/** How often a repeated subscription failure (an outage) is logged. */
const LOG_INTERVAL_MS = 10_000;

interface SubjectState {
  readonly subscriptions: Set<Subscription>;
  /** Highest id the engine has delivered for the subject. */
  cursor: number;
}

/**
 * Fans the engine's live feed out to local subscriptions: the engine follows
 * each subject once per process, however many clients subscribe to it.
 */
export class Fanout implements CatchUpSource {
  private readonly subjects = new Map<string, SubjectState>();
  private readonly hooks: SubscriptionHooks;

  constructor(
    private readonly engine: Engine,
    private readonly options: SubscriptionOptions,
    hooks: { observer?: BrokerObserver; log?: Log; now?: () => number } = {},
  ) {
    const now = hooks.now ?? Date.now;
    this.hooks = {
      observer: hooks.observer ?? NO_OBSERVER,
      log: hooks.log ?? SILENT_LOG,
      throttle: new LogThrottle(LOG_INTERVAL_MS, now),
      now,
    };
    engine.setListener({
      messages: (subject, messages) => this.deliver(subject, messages),
      lost: (subject, lastId) => this.lost(subject, lastId),
      failing: (subject, error, failingSince) => this.failing(subject, error, failingSince),
    });
  }

  /**
   * Adds a subscription that receives the subject's messages with ids above
   * `after`. `tail` is the subject's last id now: the engine's live feed
   * starts there, and anything between `after` and the feed is read from
   * storage first.
   */
  subscribe(subject: string, after: number, tail: number, gaps: GapPolicy): Subscription {
    let state = this.subjects.get(subject);
    if (!state) {
      state = { subscriptions: new Set(), cursor: tail };
      this.subjects.set(subject, state);
      this.engine.follow(subject, tail);
    }
    const live = state.cursor <= after;
    const subscription = new Subscription(
      subject,
      { after, live, gaps },
      this,
      this.options,
      (s) => this.remove(s),
      this.hooks,
    );
    state.subscriptions.add(subscription);
    return subscription;
  }

  readAfter(subject: string, afterId: number, limit: number) {
    return this.engine.readAfter(subject, afterId, limit);
  }

  lastId(subject: string): Promise<number> {
    return this.engine.lastId(subject);
  }

  liveCursor(subject: string): number {
    return this.subjects.get(subject)?.cursor ?? 0;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const state of this.subjects.values()) count += state.subscriptions.size;
    return count;
  }

  get subjectCount(): number {
    return this.subjects.size;
  }

  /** Ends every subscription normally (shutdown). */
  endAll(): void {
    for (const state of [...this.subjects.values()]) {
      for (const subscription of [...state.subscriptions]) subscription.end();
    }
  }

  private deliver(subject: string, messages: StoredMessage[]): void {
    const state = this.subjects.get(subject);
    const last = messages[messages.length - 1];
    if (!state || !last) return;
    if (last.id > state.cursor) state.cursor = last.id;
    for (const subscription of state.subscriptions) subscription.offer(messages);
  }

  /**
   * Storage lost the subject's messages after `lastId`, which these
   * subscriptions may already have received: new messages could reuse those
   * ids, so the streams end (DATA_LOSS) and clients resubscribe knowingly.
   */
  private lost(subject: string, lastId: number): void {
    const state = this.subjects.get(subject);
    if (!state) return;
    state.cursor = lastId;
    const error = dataLoss(
      `storage lost messages of subject '${subject}' after id ${lastId} (Redis restarted without persistence or was flushed); ` +
        "ids after it may be reused: resubscribe",
      { reason: "DATA_LOSS", metadata: { subject, lastId: String(lastId) } },
    );
    for (const subscription of [...state.subscriptions]) subscription.fail(error);
  }

  /**
   * The engine cannot read the subject's live feed: once that has lasted past
   * the bound, its subscriptions end (UNAVAILABLE), rather than stay open and
   * silent; clients resubscribe and resume from their last id.
   */
  private failing(subject: string, error: BrokerError, failingSince: number): void {
    const state = this.subjects.get(subject);
    if (!state) return;
    const failingForMs = this.hooks.now() - failingSince;
    if (failingForMs < this.options.giveUpAfterMs) return;
    const admitted = this.hooks.throttle.admit("live-feed-gave-up");
    if (admitted.log) {
      this.hooks.log.warn(
        { subject, failingForMs, subscriptions: state.subscriptions.size, suppressed: admitted.suppressed, err: error },
        "live reads kept failing: subscriptions ended",
      );
    }
    const ended = storageGaveUp(subject, error, failingForMs);
    for (const subscription of [...state.subscriptions]) subscription.fail(ended);
  }

  private remove(subscription: Subscription): void {
    const state = this.subjects.get(subscription.subject);
    if (!state) return;
    state.subscriptions.delete(subscription);
    if (state.subscriptions.size === 0) {
      this.subjects.delete(subscription.subject);
      this.engine.unfollow(subscription.subject);
    }
  }
}
