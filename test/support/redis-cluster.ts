import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import type { NodeAddress } from "../../gateway/src/storage/redis-target.js";
import { freePort } from "./node-process.js";

const run = promisify(execFile);

interface ClusterNode {
  readonly port: number;
  readonly busPort: number;
  child: ChildProcess | undefined;
}

/**
 * A Redis Cluster of the test's own on free loopback ports, in a temp
 * directory: `masters` masters with `replicasPerMaster` replicas each,
 * created with `redis-cli --cluster create` (as docs/scaling.md describes).
 * `destroy` kills every node and removes the directory; an exit hook does the
 * same if a test process ends without it.
 */
export class TestRedisCluster {
  private constructor(
    readonly dir: string,
    private readonly nodes: ClusterNode[],
  ) {}

  static async start(masters = 3, replicasPerMaster = 1): Promise<TestRedisCluster> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "broker-test-cluster-"));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      nodes.push({ port: await freePort(), busPort: await freePort(), child: undefined });
    }
    const cluster = new TestRedisCluster(dir, nodes);
    const cleanup = () => cluster.killAll();
    process.once("exit", cleanup);
    try {
      for (const node of nodes) cluster.spawnNode(node);
      for (const node of nodes) await waitForPing(node.port);
      const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
      await run("redis-cli", [
        "--cluster",
        "create",
        ...addresses,
        "--cluster-replicas",
        String(replicasPerMaster),
        "--cluster-yes",
      ]);
      await cluster.waitUntilOk();
      await cluster.waitUntilReplicated(replicasPerMaster);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  /** Every node, as REDIS_CLUSTER_NODES lists them. */
  get addresses(): NodeAddress[] {
    return this.nodes.map((node) => ({ host: "127.0.0.1", port: node.port }));
  }

  /** REDIS_CLUSTER_NODES for this cluster. */
  get nodesEnv(): string {
    return this.addresses.map((a) => `${a.host}:${a.port}`).join(",");
  }

  /** Ports of the nodes that are masters now (asked of the cluster). */
  async masterPorts(): Promise<number[]> {
    const text = await this.clusterNodes();
    return text
      .split("\n")
      .filter((line) => / master /.test(line.replace(/,/g, " ")) && !line.includes("fail"))
      .map((line) => Number(/:(\d+)@/.exec(line)?.[1]));
  }

  /** The port of the master serving a hash slot. */
  async masterOfSlot(slot: number): Promise<number> {
    const redis = this.connect(this.nodes.find((node) => node.child)?.port as number);
    try {
      const slots = await redis.cluster("SLOTS");
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      const master = range?.[2];
      if (!master) throw new Error(`no master serves slot ${slot}`);
      return master[1];
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Moves `slot` (and the slots before it in its master's range) to the
   * master on `toPort` with `redis-cli --cluster reshard`, keys included;
   * returns the port of the master that served it.
   */
  async reshardSlot(slot: number, toPort: number): Promise<number> {
    const redis = this.connect(this.nodes.find((node) => node.child)?.port as number);
    let range: { from: number; port: number };
    try {
      const slots = await redis.cluster("SLOTS");
      const found = slots.find(([from, to]) => slot >= from && slot <= to);
      const master = found?.[2];
      if (!found || !master) throw new Error(`no master serves slot ${slot}`);
      range = { from: found[0], port: master[1] };
    } finally {
      redis.disconnect();
    }
    await this.reshard(range.port, toPort, slot - range.from + 1);
    return range.port;
  }

  /** Kills a node with SIGKILL (no shutdown, no save). */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    const child = node?.child;
    if (!node || !child) throw new Error(`no running node on ${port}`);
    node.child = undefined;
    child.ref();
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** Waits until every live node reports cluster_state:ok and agrees on the masters. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let ok = true;
      for (const node of this.nodes.filter((n) => n.child)) {
        const redis = this.connect(node.port);
        try {
          const info = (await redis.cluster("INFO")) as string;
          if (!info.includes("cluster_state:ok")) ok = false;
        } catch {
          ok = false;
        } finally {
          redis.disconnect();
        }
      }
      if (ok) return;
      if (Date.now() > deadline) throw new Error("test cluster did not reach cluster_state:ok");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Waits until `replicas` replicas are attached and in sync (a replica not
   * yet attached when its master is killed could not be promoted).
   */
  private async waitUntilReplicated(replicasPerMaster: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let ready = true;
      for (const node of this.nodes.filter((n) => n.child)) {
        const redis = this.connect(node.port);
        try {
          const info = await redis.info("replication");
          if (info.includes("role:slave") && !info.includes("master_link_status:up")) ready = false;
          // Every node (masters vote in elections) must know each master's replicas.
          const slots = await redis.cluster("SLOTS");
          if (slots.some((range) => range.length < 3 + replicasPerMaster)) ready = false;
        } catch {
          ready = false;
        } finally {
          redis.disconnect();
        }
      }
      if (ready) return;
      if (Date.now() > deadline) throw new Error("test cluster: replicas not attached and in sync");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Moves `count` slots from one master to another (`redis-cli --cluster reshard`). */
  async reshard(fromPort: number, toPort: number, count: number): Promise<void> {
    const [fromId, toId] = await Promise.all([this.nodeId(fromPort), this.nodeId(toPort)]);
    await run("redis-cli", [
      "--cluster",
      "reshard",
      `127.0.0.1:${fromPort}`,
      "--cluster-from",
      fromId,
      "--cluster-to",
      toId,
      "--cluster-slots",
      String(count),
      "--cluster-yes",
    ]);
  }

  /** A plain connection to one node, for the test's own inspection; disconnect it when done. */
  connect(port: number): Redis {
    const redis = new Redis({ host: "127.0.0.1", port, protocol: 2, maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on("error", () => {});
    return redis;
  }

  async destroy(): Promise<void> {
    const running = this.nodes.map((node) => node.child).filter((child): child is ChildProcess => !!child);
    const exits = running.map((child) => {
      child.ref();
      return new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)));
    });
    this.killAll();
    await Promise.all(exits);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private killAll(): void {
    for (const node of this.nodes) {
      node.child?.kill("SIGKILL");
      node.child = undefined;
    }
  }

  private async clusterNodes(): Promise<string> {
    const port = this.nodes.find((node) => node.child)?.port as number;
    const redis = this.connect(port);
    try {
      return (await redis.cluster("NODES")) as string;
    } finally {
      redis.disconnect();
    }
  }

  private async nodeId(port: number): Promise<string> {
    const redis = this.connect(port);
    try {
      return (await redis.cluster("MYID")) as string;
    } finally {
      redis.disconnect();
    }
  }

  private spawnNode(node: ClusterNode): void {
    const args = ["--port", String(node.port), "--cluster-port", String(node.busPort), "--bind", "127.0.0.1"];
    args.push("--cluster-enabled", "yes", "--cluster-config-file", path.join(this.dir, `nodes-${node.port}.conf`));
    args.push("--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no", "--dir", this.dir);
    // The nodes share the directory; replication's RDB files must not.
    args.push("--dbfilename", `dump-${node.port}.rdb`);
    node.child = spawn("redis-server", args, { stdio: "ignore" });
    // The nodes never keep a test process alive; the exit hook kills them.
    node.child.unref();
  }
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const probe = new Redis({ host: "127.0.0.1", port, protocol: 2, lazyConnect: true, retryStrategy: () => null });
    probe.on("error", () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === "PONG") return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`cluster node on ${port} did not start: ${String(err)}`);
    } finally {
      probe.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let shared: Promise<TestRedisCluster> | undefined;

/**
 * One cluster shared by the contract tests of a test file (a node:test file
 * runs in its own process): started on first use, destroyed when the process
 * exits (the exit hook kills the nodes and removes the directory).
 */
export function sharedTestCluster(): Promise<TestRedisCluster> {
  shared ??= TestRedisCluster.start().then((cluster) => {
    process.once("exit", () => rmSync(cluster.dir, { recursive: true, force: true }));
    return cluster;
  });
  return shared;
}
