/** Which limit refused a client (the `limit` label of broker_limit_refusals_total). */
export type LimitName =
  | "connections"
  | "subscribe_streams_per_connection"
  | "subscribe_streams_per_process"
  | "publish_rate";

/** Where a stalled client was cut off (the `stage` label of broker_stalled_clients_closed_total). */
export type StallStage = "handshake" | "request";

/** Told about every refusal and every stalled client closed (metrics). */
export interface LimitsObserver {
  refused(limit: LimitName): void;
  stalled(stage: StallStage): void;
}

export const NO_LIMITS_OBSERVER: LimitsObserver = { refused: () => {}, stalled: () => {} };
