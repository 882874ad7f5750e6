/**
 * Publish throughput of the Redis engine on one Redis against a local Redis
 * Cluster of 3 masters (+3 replicas), side by side in one run:
 * `node --import tsx loadtest/src/cluster-bench.ts [seconds]`. Both are
 * private servers on free ports, removed afterwards. The engine is driven
 * in-process (no RPC layer), `IN_FLIGHT` appends at a time over `SUBJECTS`
 * subjects, so the figure is the storage path's: client CPU plus Redis.
 */
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../../gateway/src/engines/redis/redis-engine.js";
import { PrivateRedis } from "../../test/support/private-redis.js";
import { TestRedisCluster } from "../../test/support/redis-cluster.js";

const SECONDS = Number(process.argv[2] ?? 8);
const IN_FLIGHT = 256;
const SUBJECTS = 64;
const BODY = Buffer.alloc(128, 7);

async function drive(engine: RedisEngine): Promise<{ rate: number; cpuMs: number }> {
  await engine.ready();
  // Warm up (scripts loaded, streams created).
  await Promise.all(Array.from({ length: SUBJECTS }, (_, s) => engine.append(`s${s}`, BODY, Date.now() + 60_000)));
  const deadline = Date.now() + SECONDS * 1000;
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      for (let i = worker; Date.now() < deadline; i += IN_FLIGHT) {
        await engine.append(`s${i % SUBJECTS}`, BODY, Date.now() + 60_000);
        done += 1;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (Date.now() - started) / 1000;
  return { rate: done / seconds, cpuMs: (cpu.user + cpu.system) / 1000 / done };
}

const redis = await PrivateRedis.start();
const cluster = await TestRedisCluster.start();
try {
  const one = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: redis.url, keyPrefix: "bench:" });
  const standalone = await drive(one);
  await one.close();
  const many = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, clusterNodes: cluster.addresses, keyPrefix: "bench:" });
  const clustered = await drive(many);
  await many.close();
  const line = (name: string, r: { rate: number; cpuMs: number }) =>
    `${name.padEnd(26)} ${Math.round(r.rate).toLocaleString("en").padStart(9)} appends/s   ${(r.cpuMs * 1000).toFixed(1)} µs client CPU per append`;
  console.log(`${SECONDS} s each, ${IN_FLIGHT} in flight, ${SUBJECTS} subjects, ${BODY.length}-byte bodies`);
  console.log(line("one Redis", standalone));
  console.log(line("cluster, 3 masters", clustered));
} finally {
  await cluster.destroy();
  await redis.destroy();
}
