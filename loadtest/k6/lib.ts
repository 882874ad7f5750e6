// Shared settings of the k6 scripts: everything comes from environment variables (k6 run -e NAME=value).
import encoding from "k6/encoding";
import grpc from "k6/net/grpc";

export const ADDRESS = __ENV.GATEWAY_ADDR || "127.0.0.1:50051";
/** The proto directory relative to this script (k6 resolves it from the script's folder). */
export const PROTO_DIR = __ENV.PROTO_DIR || "../../proto";
/**
 * The subject (or subject prefix) of a run. Init code runs once per VU, at different
 * times, so a per-run default must come from setup(): see runSubject.
 */
export const SUBJECT = __ENV.SUBJECT || "";

/** SUBJECT, or a name unique to this run; call it in setup() and pass it on in the setup data. */
export function runSubject(name: string): string {
  return SUBJECT || `k6-${name}-${Date.now()}`;
}

export interface RunData {
  readonly subject: string;
}
export const BODY_BYTES = Number(__ENV.BODY_BYTES || 128);
export const DURATION = __ENV.DURATION || "30s";
export const EXPIRATION_SECONDS = Number(__ENV.EXPIRATION_SECONDS || 60);

/**
 * Call params with `authorization: Bearer $TOKEN` when TOKEN is set (a gateway with auth on;
 * mint one with `npm run token -- --publish '>' --subscribe '>'`), merged into `params`.
 */
export function withToken(params: grpc.Params = {}): grpc.Params {
  if (!__ENV.TOKEN) return params;
  return { ...params, metadata: { ...(params.metadata ?? {}), authorization: `Bearer ${__ENV.TOKEN}` } };
}

export const PUBLISH = "broker.Broker/Publish";
export const PUBLISH_BATCH = "broker.Broker/PublishBatch";
export const FETCH = "broker.Broker/Fetch";
export const SUBSCRIBE = "broker.Broker/Subscribe";

/** A client with the broker proto loaded; load() must run in the init context. */
export function newClient(): grpc.Client {
  const client = new grpc.Client();
  client.load([PROTO_DIR], "broker/broker.proto");
  return client;
}

/**
 * A body of BODY_BYTES whose first characters are the send time in ms
 * ("t=<ms>;"), base64 as k6 passes bytes fields. Subscribers read it back.
 */
export function stampedBody(): string {
  const stamp = `t=${Date.now()};`;
  return encoding.b64encode(stamp + "x".repeat(Math.max(0, BODY_BYTES - stamp.length)));
}

/** The send time written by stampedBody, or undefined. */
export function sentAt(base64Body: string): number | undefined {
  const text = encoding.b64decode(base64Body, "std", "s");
  const match = /^t=(\d+);/.exec(text);
  return match ? Number(match[1]) : undefined;
}

export function fillerBody(): string {
  return encoding.b64encode("x".repeat(BODY_BYTES));
}
