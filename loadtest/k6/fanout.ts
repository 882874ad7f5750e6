// Subscribe fan-out: SUBSCRIBERS server streams on one subject, a publisher at RATE msg/s; the
// delivery latency is the receive time minus the send time the publisher wrote into the body.
//   k6 run -e SUBSCRIBERS=1000 -e RATE=100 -e DURATION=60s loadtest/k6/fanout.ts
import { check } from "k6";
import { Counter, Trend } from "k6/metrics";
import grpc from "k6/net/grpc";
import type { Options } from "k6/options";
import { setTimeout } from "k6/timers";
import {
  ADDRESS,
  DURATION,
  newClient,
  PUBLISH,
  type RunData,
  runSubject,
  SUBSCRIBE,
  sentAt,
  stampedBody,
  withToken,
} from "./lib.ts";

const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 100);
const RATE = Number(__ENV.RATE || 100);
/** Subscribers start this long before publishing does, and stay this long after it stops. */
const WARMUP_S = Number(__ENV.WARMUP_S || 5);
const durationS = Number.parseInt(DURATION, 10);

const deliveryLatency = new Trend("delivery_latency", true);
const delivered = new Counter("messages_delivered");
const streamErrors = new Counter("stream_errors");

export const options: Options = {
  scenarios: {
    subscribers: {
      executor: "per-vu-iterations",
      vus: SUBSCRIBERS,
      iterations: 1,
      exec: "subscriber",
      maxDuration: `${durationS + 3 * WARMUP_S}s`,
    },
    publisher: {
      executor: "constant-arrival-rate",
      exec: "publisher",
      rate: RATE,
      timeUnit: "1s",
      startTime: `${WARMUP_S}s`,
      duration: DURATION,
      preAllocatedVUs: 10,
      maxVUs: 100,
    },
  },
  thresholds: {
    delivery_latency: [`p(95)<${__ENV.P95_MS || 25}`, `p(99)<${__ENV.P99_MS || 50}`],
    stream_errors: ["count==0"],
    checks: ["rate>0.999"],
  },
};

const client = newClient();
let connected = false;

function connect(): void {
  if (connected) return;
  client.connect(ADDRESS, { plaintext: true });
  connected = true;
}

export function setup(): RunData {
  return { subject: runSubject("fanout") };
}

export function subscriber(data: RunData): void {
  connect();
  const stream = new grpc.Stream(client, SUBSCRIBE, withToken());
  stream.on("data", (data) => {
    const message = data as { body?: string };
    const sent = message.body === undefined ? undefined : sentAt(message.body);
    if (sent !== undefined) deliveryLatency.add(Date.now() - sent);
    delivered.add(1);
  });
  stream.on("error", () => streamErrors.add(1));
  stream.write({ subject: data.subject });
  stream.end(); // a server-streaming call: the one request is all the client sends
  // Hold the stream through the publishing window, then close the connection (which ends it).
  setTimeout(() => client.close(), (durationS + 2 * WARMUP_S) * 1000);
}

export function publisher(data: RunData): void {
  connect();
  const response = client.invoke(
    PUBLISH,
    { subject: data.subject, body: stampedBody(), expirationSeconds: 0 },
    withToken(),
  );
  check(response, { "publish OK": (r) => r.status === grpc.StatusOK });
}
