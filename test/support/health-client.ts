import { credentials, makeGenericClientConstructor, type ServiceError } from "@grpc/grpc-js";
import { healthServiceDefinition, ServingStatus } from "../../gateway/src/observability/grpc-health.js";

const HealthClient = makeGenericClientConstructor(healthServiceDefinition, "grpc.health.v1.Health");

/** grpc.health.v1 Check against a gRPC port, as grpc_health_probe does. */
export async function grpcHealthCheck(port: number, service = ""): Promise<ServingStatus> {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    return await new Promise<ServingStatus>((resolve, reject) => {
      client.makeUnaryRequest(
        healthServiceDefinition.Check.path,
        healthServiceDefinition.Check.requestSerialize,
        healthServiceDefinition.Check.responseDeserialize,
        { service },
        (err: ServiceError | null, response?: { status: ServingStatus }) =>
          err ? reject(err) : resolve(response?.status ?? ServingStatus.UNKNOWN),
      );
    });
  } finally {
    client.close();
  }
}

export async function httpStatus(port: number, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text() };
}

/** grpc.health.v1 Watch: the statuses the server streams, until `close`. */
export function grpcHealthWatch(port: number, service = ""): { statuses: ServingStatus[]; close: () => void } {
  const client = new HealthClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const statuses: ServingStatus[] = [];
  const call = client.makeServerStreamRequest(
    healthServiceDefinition.Watch.path,
    healthServiceDefinition.Watch.requestSerialize,
    healthServiceDefinition.Watch.responseDeserialize,
    { service },
  );
  call.on("data", (response: { status: ServingStatus }) => statuses.push(response.status));
  call.on("error", () => {});
  return {
    statuses,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
