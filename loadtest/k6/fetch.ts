// Fetch of hot ids (published in setup, still in Redis) and, when ARCHIVED_SUBJECT and
// ARCHIVED_MAX_ID name ids that now live only in the archive, of archived ids; constant arrival rate.
//   k6 run -e RATE=2000 loadtest/k6/fetch.ts
//   k6 run -e ARCHIVED_SUBJECT=orders -e ARCHIVED_MAX_ID=100000 -e ARCHIVED_RATE=2000 loadtest/k6/fetch.ts
import { check } from "k6";
import grpc from "k6/net/grpc";
import type { Options, Scenario } from "k6/options";
import { ADDRESS, DURATION, FETCH, fillerBody, newClient, PUBLISH_BATCH, runSubject, withToken } from "./lib.ts";

const RATE = Number(__ENV.RATE || 2000);
const HOT_IDS = Number(__ENV.HOT_IDS || 1000);
const ARCHIVED_SUBJECT = __ENV.ARCHIVED_SUBJECT || "";
const ARCHIVED_MAX_ID = Number(__ENV.ARCHIVED_MAX_ID || 0);
const ARCHIVED_RATE = Number(__ENV.ARCHIVED_RATE || 2000);

const scenarios: Record<string, Scenario> = {
  hot: {
    executor: "constant-arrival-rate",
    exec: "fetchHot",
    rate: RATE,
    timeUnit: "1s",
    duration: DURATION,
    preAllocatedVUs: 50,
    maxVUs: 500,
    tags: { kind: "hot" },
  },
};
if (ARCHIVED_SUBJECT && ARCHIVED_MAX_ID > 0) {
  scenarios.archived = {
    executor: "constant-arrival-rate",
    exec: "fetchArchived",
    rate: ARCHIVED_RATE,
    timeUnit: "1s",
    duration: DURATION,
    preAllocatedVUs: 50,
    maxVUs: 500,
    tags: { kind: "archived" },
  };
}

export const options: Options = {
  scenarios,
  thresholds: {
    "grpc_req_duration{kind:hot}": [`p(95)<${__ENV.P95_MS || 5}`, `p(99)<${__ENV.P99_MS || 10}`],
    "grpc_req_duration{kind:archived}": [`p(95)<${__ENV.ARCHIVED_P95_MS || 3}`, `p(99)<${__ENV.ARCHIVED_P99_MS || 5}`],
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

/** Publishes HOT_IDS messages in one batch and hands their ids to every VU. */
export function setup(): { subject: string; ids: string[] } {
  connect();
  const subject = runSubject("fetch");
  const body = fillerBody();
  const messages = Array.from({ length: HOT_IDS }, () => ({ subject, body, expirationSeconds: 3600 }));
  const response = client.invoke(PUBLISH_BATCH, { messages }, withToken());
  if (response.status !== grpc.StatusOK)
    throw new Error(`setup PublishBatch failed: ${JSON.stringify(response.error)}`);
  client.close();
  connected = false;
  return { subject, ids: (response.message as { ids: string[] }).ids };
}

export function fetchHot(data: { subject: string; ids: string[] }): void {
  connect();
  const id = data.ids[Math.floor(Math.random() * data.ids.length)];
  const response = client.invoke(FETCH, { subject: data.subject, id }, withToken({ tags: { kind: "hot" } }));
  check(response, { "hot fetch OK": (r) => r.status === grpc.StatusOK });
}

export function fetchArchived(): void {
  connect();
  const id = String(1 + Math.floor(Math.random() * ARCHIVED_MAX_ID));
  const response = client.invoke(FETCH, { subject: ARCHIVED_SUBJECT, id }, withToken({ tags: { kind: "archived" } }));
  check(response, { "archived fetch OK": (r) => r.status === grpc.StatusOK });
}
