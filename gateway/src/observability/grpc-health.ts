import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation, type ServingStatus } from "grpc-health-check";
import type { HealthState } from "./health-state.js";

/** How often readiness (storage reachable) is re-read for Check and Watch; a drain is applied at once. */
const REFRESH_MS = 1_000;

/**
 * The standard gRPC health service (grpc.health.v1.Health: Check, Watch and
 * List) for grpc_health_probe, Kubernetes gRPC probes and Envoy, from
 * grpc-health-check. The server ("") and each broker service share one
 * readiness, read on every call and once a second, and pushed to the library
 * when it changes (Watch streams get each change once). Once the drain
 * starts the status stays NOT_SERVING.
 */
export class GrpcHealth {
  private readonly implementation = new HealthImplementation();
  private readonly timer: NodeJS.Timeout;
  private current: ServingStatus | undefined;

  constructor(
    private readonly state: HealthState,
    private readonly services: readonly string[],
  ) {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
    state.onDrain(() => {
      clearInterval(this.timer);
      this.refresh();
    });
  }

  /** The service for the gateway's grpc-js server (which wraps its handlers for telemetry before adding them). */
  get service(): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
    let service: { definition: ServiceDefinition; implementation: UntypedServiceImplementation } | undefined;
    // The library adds itself to a server; take what it adds.
    this.implementation.addToServer({
      addService: (definition, implementation) => {
        // Every call reads readiness first, so Check agrees with /readyz at once.
        const handlers: UntypedServiceImplementation = {};
        for (const [name, handler] of Object.entries(implementation as UntypedServiceImplementation)) {
          handlers[name] = ((call: unknown, callback: unknown) => {
            this.refresh();
            return (handler as (call: unknown, callback: unknown) => void)(call, callback);
          }) as UntypedServiceImplementation[string];
        }
        service = { definition: definition as unknown as ServiceDefinition, implementation: handlers };
      },
    });
    if (!service) throw new Error("grpc-health-check added no service");
    return service;
  }

  private refresh(): void {
    const status: ServingStatus = this.state.readiness().ready ? "SERVING" : "NOT_SERVING";
    if (status === this.current) return;
    this.current = status;
    for (const service of ["", ...this.services]) this.implementation.setStatus(service, status);
  }
}
