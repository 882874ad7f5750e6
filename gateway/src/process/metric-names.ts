/**
 * Every metric the gateway and the archiver export, by name. The Grafana
 * dashboard and the alert rules may only use these (test/deploy-*.test.ts).
 * Names follow Prometheus conventions: base units, `_total` counters, and
 * labels from small fixed sets (never a subject or an id).
 */
export const RPC_METRICS = {
  /** Counter {grpc_type, grpc_service, grpc_method, transport}: calls started (go-grpc-prometheus). */
  started: "grpc_server_started_total",
  /** Counter {grpc_type, grpc_service, grpc_method, grpc_code, transport}: calls finished, by status. */
  handled: "grpc_server_handled_total",
  /** Histogram {grpc_type, grpc_service, grpc_method, transport}: start to status, in seconds. */
  handlingSeconds: "grpc_server_handling_seconds",
  /** Counter {grpc_type, grpc_service, grpc_method, transport}: response messages sent. */
  msgSent: "grpc_server_msg_sent_total",
  /** Counter {grpc_type, grpc_service, grpc_method, transport}: request messages received. */
  msgReceived: "grpc_server_msg_received_total",
} as const;

export const BROKER_METRICS = {
  published: "broker_messages_published_total",
  delivered: "broker_messages_delivered_total",
  /** Gauge: open Subscribe streams. */
  activeSubscriptions: "broker_active_subscriptions",
  /** Gauge: subjects with at least one live subscriber (per process; summed over workers). */
  subscribedSubjects: "broker_subscribed_subjects",
  /** Histogram: publish time to the write on a subscriber stream, in seconds. */
  deliveryLagSeconds: "broker_delivery_lag_seconds",
  /** Counter: live subscribers that overflowed their buffer and went to catch up from storage. */
  subscriberFellBehind: "broker_subscriber_fell_behind_total",
  /** Counter: subscribers ended with RESOURCE_EXHAUSTED because they fell behind retention. */
  slowSubscriberTerminations: "broker_slow_subscriber_terminations_total",
  /** Histogram {command}: Redis command latency on the command connection, in seconds. */
  redisCommandSeconds: "broker_redis_command_duration_seconds",
  /** Counter {command}: Redis commands that failed (any connection). */
  redisCommandErrors: "broker_redis_command_errors_total",
  /** Gauge: 1 while the gateway is ready (storage reachable, not draining). */
  ready: "broker_gateway_ready",
} as const;

/** What the archiver must export (archiver-metrics.ts defines them; metrics-server.ts serves them). */
export const ARCHIVER_METRICS = {
  /** Gauge: age of the oldest message not yet archived, in seconds (0 when caught up). */
  lagSeconds: "broker_archiver_lag_seconds",
  /** Histogram: rows per batch written to PostgreSQL. */
  batchRows: "broker_archiver_batch_rows",
  /** Counter: rows written to PostgreSQL. */
  rowsArchived: "broker_archiver_rows_archived_total",
  /** Gauge: passes failed in a row (0 while passes succeed): Redis or PostgreSQL cannot be read or written. */
  failingPasses: "broker_archiver_failing_passes",
} as const;

/** Go's names for gRPC status codes, as go-grpc-prometheus puts them in grpc_code. */
export const GRPC_CODE_NAMES: readonly string[] = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? "Unknown";
}
