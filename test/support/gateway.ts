import { after, before } from "node:test";
import { type GatewayConfig, loadConfig } from "../../gateway/src/config.js";
import { Gateway } from "../../gateway/src/gateway.js";
import { sharedTestCluster } from "./redis-cluster.js";
import { deleteGatewayKeys, REDIS_URL, uniquePrefix } from "./services.js";

/** "redis-cluster": a local 3-master / 3-replica Redis Cluster the test file starts (redis-cluster.ts). */
export type EngineKind = "memory" | "redis" | "redis-cluster";
/** The engines every contract-level suite runs on. */
export const ENGINES: readonly EngineKind[] = ["memory", "redis", "redis-cluster"];

/** Starts an in-process gateway on free loopback ports; `stop` drains it and removes its keys. */
export async function startGateway(
  engine: EngineKind,
  overrides: Partial<GatewayConfig> = {},
): Promise<{ gateway: Gateway; config: GatewayConfig; stop: () => Promise<void> }> {
  const prefix = uniquePrefix("gw");
  const config: GatewayConfig = {
    ...loadConfig({}),
    host: "127.0.0.1",
    grpcPort: 0,
    httpPort: 0,
    redisUrl: engine === "redis" ? REDIS_URL : undefined,
    redisClusterNodes: engine === "redis-cluster" ? (await sharedTestCluster()).addresses : undefined,
    redisKeyPrefix: prefix,
    shutdownTimeoutMs: 2_000,
    ...overrides,
  };
  const gateway = await Gateway.start(config);
  await gateway.engine.ready();
  return {
    gateway,
    config,
    stop: async () => {
      await gateway.close();
      if (config.redisClusterNodes) {
        await deleteGatewayKeys(config.redisClusterNodes, config.redisKeyPrefix);
      } else if (config.redisUrl) {
        await deleteGatewayKeys(config.redisUrl, config.redisKeyPrefix);
      }
    },
  };
}

/**
 * One gateway for the tests of the enclosing describe: registers a before hook
 * that starts it and an after hook that stops it. Read `gateway` inside tests.
 */
export function gatewayForSuite(
  engine: EngineKind,
  overrides: Partial<GatewayConfig> = {},
): { readonly gateway: Gateway } {
  let started: Awaited<ReturnType<typeof startGateway>> | undefined;
  before(async () => {
    started = await startGateway(engine, overrides);
  });
  after(() => started?.stop());
  return {
    get gateway(): Gateway {
      if (!started) throw new Error("the suite's gateway is not running: read it inside a test");
      return started.gateway;
    },
  };
}
