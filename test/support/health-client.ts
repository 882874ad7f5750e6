import { credentials, makeGenericClientConstructor, type ServiceDefinition, type ServiceError } from "@grpc/grpc-js";
import { service } from "grpc-health-check";

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export enum ServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

/** grpc-health-check's definition (proto-loader, enums as their names). */
const healthServiceDefinition = service as unknown as ServiceDefinition &
  Record<"Check" | "Watch", ServiceDefinition[string]>;
const HealthClient = makeGenericClientConstructor(healthServiceDefinition, "grpc.health.v1.Health");

function statusOf(response: { status?: string } | undefined): ServingStatus {
  return ServingStatus[(response?.status ?? "UNKNOWN") as keyof typeof ServingStatus] ?? ServingStatus.UNKNOWN;
}

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
        (err: ServiceError | null, response?: { status?: string }) => (err ? reject(err) : resolve(statusOf(response))),
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
  call.on("data", (response: { status?: string }) => statuses.push(statusOf(response)));
  call.on("error", () => {});
  return {
    statuses,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
