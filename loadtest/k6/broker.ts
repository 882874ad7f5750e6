// The gateway under a production-like mix, for wherever k6 (>= 0.57, which runs TypeScript) is
// installed: publishers and fetchers at constant arrival rates and long-lived subscribers at once,
// with thresholds on each. No k6 binary can be installed on the project's machines, so CI only
// type-checks this script against @types/k6 (`npm run typecheck:k6`); the measured runs are the Node
// runner's (`npm run bench`, docs/performance.md). Every parameter is an environment variable:
//
//   k6 run -e GATEWAY_ADDR=127.0.0.1:50051 -e PUBLISH_RATE=1000 -e FETCH_RATE=1000 \
//          -e SUBSCRIBERS=200 -e DURATION=2m loadtest/k6/broker.ts
//
//   GATEWAY_ADDR   gRPC address (127.0.0.1:50051)        PROTO_DIR   proto dir relative to this file (../../proto)
//   PUBLISH_RATE   publishes/s (1000)                    FETCH_RATE  fetches of recent ids/s (1000; 0: none)
//   SUBSCRIBERS    Subscribe streams (200)               SUBJECTS    subjects the load spreads over (20)
//   DURATION       e.g. 30s, 2m (30s)                    BODY_BYTES  body size (128)
//   SUBJECT        subject prefix (default: one per run) P95_MS, P99_MS, DELIVERY_P99_MS  thresholds (10, 25, 50)
//   TOKEN          a JWT sent as `authorization: Bearer` (a gateway with auth on; mint one with
//                  `npm run token -- --publish '>' --subscribe '>'`)
import { check } from "k6";
import encoding from "k6/encoding";
import exec from "k6/execution";
import { Trend } from "k6/metrics";
import grpc from "k6/net/grpc";
import type { Options } from "k6/options";
import { setTimeout } from "k6/timers";

const ADDRESS = __ENV.GATEWAY_ADDR || "127.0.0.1:50051";
const PROTO_DIR = __ENV.PROTO_DIR || "../../proto";
const SUBJECTS = Number(__ENV.SUBJECTS || 20);
const PUBLISH_RATE = Number(__ENV.PUBLISH_RATE || 1000);
const FETCH_RATE = Number(__ENV.FETCH_RATE || 1000);
const SUBSCRIBERS = Number(__ENV.SUBSCRIBERS || 200);
const BODY_BYTES = Number(__ENV.BODY_BYTES || 128);
const DURATION = __ENV.DURATION || "30s";

/** Call params with `authorization: Bearer $TOKEN` when TOKEN is set, merged into `params`. */
function withToken(params: grpc.Params = {}): grpc.Params {
  if (!__ENV.TOKEN) return params;
  return { ...params, metadata: { ...(params.metadata ?? {}), authorization: `Bearer ${__ENV.TOKEN}` } };
}
const P95_MS = Number(__ENV.P95_MS || 10);
const P99_MS = Number(__ENV.P99_MS || 25);
const DELIVERY_P99_MS = Number(__ENV.DELIVERY_P99_MS || 50);
const durationS = Number.parseInt(DURATION, 10);

const PUBLISH = "broker.Broker/Publish";
const FETCH = "broker.Broker/Fetch";
const SUBSCRIBE = "broker.Broker/Subscribe";

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
    ...(FETCH_RATE > 0
      ? {
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
        }
      : {}),
  },
  thresholds: {
    "grpc_req_duration{kind:publish}": [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    "grpc_req_duration{kind:fetch}": [`p(95)<${P95_MS}`, `p(99)<${P99_MS}`],
    delivery_latency: [`p(99)<${DELIVERY_P99_MS}`],
    checks: ["rate>0.999"],
  },
};

// load() must run in the init context; each VU has its own client.
const client = new grpc.Client();
client.load([PROTO_DIR], "broker/broker.proto");
let connected = false;

function connect(): void {
  if (connected) return;
  client.connect(ADDRESS, { plaintext: true });
  connected = true;
}

interface RunData {
  readonly subject: string;
}

/** Init code runs once per VU at different times: a per-run subject must come from setup(). */
export function setup(): RunData {
  return { subject: __ENV.SUBJECT || `k6-mixed-${Date.now()}` };
}

function subjectFor(data: RunData, n: number): string {
  return `${data.subject}-${n % SUBJECTS}`;
}

/** A body of BODY_BYTES starting with the send time ("t=<ms>;"), base64 as k6 passes bytes fields. */
function stampedBody(): string {
  const stamp = `t=${Date.now()};`;
  return encoding.b64encode(stamp + "x".repeat(Math.max(0, BODY_BYTES - stamp.length)));
}

function sentAt(base64Body: string): number | undefined {
  const match = /^t=(\d+);/.exec(encoding.b64decode(base64Body, "std", "s"));
  return match ? Number(match[1]) : undefined;
}

export function subscriber(data: RunData): void {
  connect();
  const stream = new grpc.Stream(client, SUBSCRIBE, withToken());
  stream.on("data", (message) => {
    const sent = sentAt((message as { body: string }).body);
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
