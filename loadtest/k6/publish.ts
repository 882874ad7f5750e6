// Unary Publish at a constant arrival rate.
//   k6 run -e GATEWAY_ADDR=127.0.0.1:50051 -e RATE=2000 -e DURATION=60s loadtest/k6/publish.ts
import { check } from "k6";
import grpc from "k6/net/grpc";
import type { Options } from "k6/options";
import {
  ADDRESS,
  DURATION,
  EXPIRATION_SECONDS,
  fillerBody,
  newClient,
  PUBLISH,
  type RunData,
  runSubject,
  withToken,
} from "./lib.ts";

const RATE = Number(__ENV.RATE || 2000);

export const options: Options = {
  scenarios: {
    publish: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: DURATION,
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 500),
    },
  },
  thresholds: {
    grpc_req_duration: [`p(95)<${__ENV.P95_MS || 5}`, `p(99)<${__ENV.P99_MS || 10}`],
    checks: ["rate>0.999"],
    dropped_iterations: [`count<${Math.ceil(RATE)}`],
  },
};

const client = newClient();
const body = fillerBody();
let connected = false;

export function setup(): RunData {
  return { subject: runSubject("publish") };
}

export default function (data: RunData): void {
  if (!connected) {
    client.connect(ADDRESS, { plaintext: true });
    connected = true;
  }
  const response = client.invoke(
    PUBLISH,
    { subject: data.subject, body, expirationSeconds: EXPIRATION_SECONDS },
    withToken(),
  );
  check(response, { "publish OK": (r) => r.status === grpc.StatusOK });
}
