import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import type {
  MethodDefinition,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { HealthState } from "./health-state.js";

/**
 * The standard gRPC health service (grpc.health.v1.Health, as in
 * grpc/grpc-proto's health.proto) for grpc_health_probe, Kubernetes gRPC
 * probes and Envoy. Its two messages have one field each, so they are
 * encoded here rather than generated.
 */
interface HealthCheckRequest {
  service: string;
}
interface HealthCheckResponse {
  status: ServingStatus;
}
export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

export function encodeHealthRequest(request: HealthCheckRequest): Buffer {
  const writer = new BinaryWriter();
  if (request.service) writer.tag(1, 2).string(request.service);
  return Buffer.from(writer.finish());
}

export function decodeHealthRequest(bytes: Uint8Array): HealthCheckRequest {
  const reader = new BinaryReader(bytes);
  let service = "";
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) service = reader.string();
    else reader.skip(wireType);
  }
  return { service };
}

export function encodeHealthResponse(response: HealthCheckResponse): Buffer {
  const writer = new BinaryWriter();
  if (response.status !== 0) writer.tag(1, 0).int32(response.status);
  return Buffer.from(writer.finish());
}

export function decodeHealthResponse(bytes: Uint8Array): HealthCheckResponse {
  const reader = new BinaryReader(bytes);
  let value = ServingStatus.UNKNOWN;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 0) value = reader.int32();
    else reader.skip(wireType);
  }
  return { status: value };
}

function method(name: string, responseStream: boolean): MethodDefinition<HealthCheckRequest, HealthCheckResponse> {
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: encodeHealthRequest,
    requestDeserialize: decodeHealthRequest,
    responseSerialize: encodeHealthResponse,
    responseDeserialize: decodeHealthResponse,
  };
}

export const healthServiceDefinition = {
  Check: method("Check", false),
  Watch: method("Watch", true),
} satisfies ServiceDefinition;

/** How often a Watch stream re-reads the state to notice changes. */
const WATCH_POLL_MS = 1_000;

/** The overall server ("") and the broker service share one readiness. */
export function healthService(state: HealthState, services: readonly string[]): UntypedServiceImplementation {
  const known = new Set(["", ...services]);
  const current = (service: string): ServingStatus => {
    if (!known.has(service)) return ServingStatus.SERVICE_UNKNOWN;
    return state.readiness().ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  return {
    Check(
      call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      callback: sendUnaryData<HealthCheckResponse>,
    ) {
      const value = current(call.request.service);
      if (value === ServingStatus.SERVICE_UNKNOWN) {
        callback({ code: status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
        return;
      }
      callback(null, { status: value });
    },
    Watch(call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) {
      let last: ServingStatus | undefined;
      const send = () => {
        const value = current(call.request.service);
        if (value !== last) {
          last = value;
          call.write({ status: value });
        }
      };
      send();
      const timer = setInterval(send, WATCH_POLL_MS);
      const stop = () => clearInterval(timer);
      call.once("cancelled", stop);
      call.once("close", stop);
      call.once("finish", stop);
    },
  };
}
