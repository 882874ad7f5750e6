// A mixed load: publishers, fetchers of recent ids and long-lived subscribers at once, as a
// production-like day; thresholds on every part.
//   k6 run -e PUBLISH_RATE=1000 -e FETCH_RATE=1000 -e SUBSCRIBERS=200 -e DURATION=2m loadtest/k6/mixed.ts
import { check } from "k6";
import exec from "k6/execution";
import { Trend } from "k6/metrics";
import grpc from "k6/net/grpc";
import type { Options } from "k6/options";
import { setTimeout } from "k6/timers";
import {
  ADDRESS,
  DURATION,
  FETCH,
  newClient,
  PUBLISH,
  type RunData,
  runSubject,
  SUBSCRIBE,
  sentAt,
  stampedBody,
  withToken,
} from "./lib.ts";

const SUBJECTS = Number(__ENV.SUBJECTS || 20);
const PUBLISH_RATE = Number(__ENV.PUBLISH_RATE || 1000);
const FETCH_RATE = Number(__ENV.FETCH_RATE || 1000);
const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 200);
const durationS = Number.parseInt(DURATION, 10);

const deliveryLatency = new Trend("delivery_latency", true);

export const options: Options = {
  scenarios: {
    subscribers: {
      executor: "per-vu-iterations",
      vus: SUBSCRIBERS,
      iterations: 1,
      exec: "subscriber",
      maxDuration: `${durationS + 15}s`,
    },
    publishers: {
      executor: "constant-arrival-rate",
      exec: "publisher",
      rate: PUBLISH_RATE,
      timeUnit: "1s",
      startTime: "3s",
      duration: DURATION,
      preAllocatedVUs: 50,
      maxVUs: 300,
      tags: { kind: "publish" },
    },
    fetchers: {
      executor: "constant-arrival-rate",
      exec: "fetcher",
      rate: FETCH_RATE,
      timeUnit: "1s",
      startTime: "5s",
      duration: DURATION,
      preAllocatedVUs: 50,
      maxVUs: 300,
      tags: { kind: "fetch" },
    },
  },
  thresholds: {
    "grpc_req_duration{kind:publish}": ["p(95)<10", "p(99)<25"],
    "grpc_req_duration{kind:fetch}": ["p(95)<10", "p(99)<25"],
    delivery_latency: ["p(95)<25", "p(99)<50"],
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

function subjectFor(data: RunData, n: number): string {
  return `${data.subject}-${n % SUBJECTS}`;
}

export function setup(): RunData {
  return { subject: runSubject("mixed") };
}

export function subscriber(data: RunData): void {
  connect();
  const stream = new grpc.Stream(client, SUBSCRIBE, withToken());
  stream.on("data", (data) => {
    const sent = sentAt((data as { body: string }).body);
    if (sent !== undefined) deliveryLatency.add(Date.now() - sent);
  });
  stream.write({ subject: subjectFor(data, exec.vu.idInTest) });
  stream.end(); // a server-streaming call: the one request is all the client sends
  setTimeout(() => client.close(), (durationS + 10) * 1000);
}

export function publisher(data: RunData): void {
  connect();
  const subject = subjectFor(data, exec.scenario.iterationInTest);
  const response = client.invoke(
    PUBLISH,
    { subject, body: stampedBody(), expirationSeconds: 600 },
    withToken({ tags: { kind: "publish" } }),
  );
  check(response, { "publish OK": (r) => r.status === grpc.StatusOK });
}

export function fetcher(data: RunData): void {
  connect();
  // Publishers started 3 s in at PUBLISH_RATE over SUBJECTS subjects: ids up to about
  // 90% of what each subject should hold by now exist (VUs do not share state in k6).
  const publishingS = Math.max(0, exec.instance.currentTestRunDuration / 1000 - 3);
  const stored = Math.max(1, Math.floor(((PUBLISH_RATE * publishingS) / SUBJECTS) * 0.9));
  const subject = subjectFor(data, exec.scenario.iterationInTest);
  const id = String(1 + Math.floor(Math.random() * stored));
  const response = client.invoke(FETCH, { subject, id }, withToken({ tags: { kind: "fetch" } }));
  check(response, { "fetch OK": (r) => r.status === grpc.StatusOK });
}
