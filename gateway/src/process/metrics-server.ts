import http from "node:http";
import type { AddressInfo } from "node:net";
import { AggregatorRegistry, type Registry } from "prom-client";

/** Produces one scrape: the exposition text and its content type. */
export type MetricsSource = () => Promise<{ body: string; contentType: string }>;

/** One process's registry (a single gateway process, or the archiver). */
export function registrySource(registry: Registry): MetricsSource {
  return async () => ({ body: await registry.metrics(), contentType: registry.contentType });
}

/**
 * The node:cluster primary's view: asks every worker for its metrics over
 * IPC and sums them (prom-client's AggregatorRegistry). Each worker must
 * call `answerClusterMetrics` with its registries.
 */
export function clusterSource(primaryRegistry?: Registry): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return async () => {
    const aggregated = await aggregator.clusterMetrics();
    const own = primaryRegistry ? await primaryRegistry.metrics() : "";
    return { body: own ? `${aggregated}\n${own}` : aggregated, contentType: aggregator.contentType };
  };
}

/**
 * In a cluster worker: answer the primary's metrics requests with these
 * registries. prom-client installs its IPC listener only when an
 * AggregatorRegistry is constructed, so one is made here for that.
 */
export function answerClusterMetrics(registries: Registry[]): void {
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries(registries);
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A small HTTP server for Prometheus on its own port (METRICS_PORT), apart
 * from the public ones: GET /metrics, nothing else. The gateway and the
 * archiver both use it.
 */
export async function serveMetrics(source: MetricsSource, port: number, host = "0.0.0.0"): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    if ((request.url ?? "").split("?")[0] !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.statusCode = 404;
      response.end();
      return;
    }
    source().then(
      ({ body, contentType }) => {
        response.setHeader("content-type", contentType);
        response.end(request.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        response.statusCode = 500;
        response.end(`collecting metrics failed: ${String(err)}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
