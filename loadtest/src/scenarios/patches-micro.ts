/**
 * In-process microbenchmarks for `npm run bench:patches` (patches.ts): each
 * exercises one patch's path with GATEWAY_PATCHES set to "off" or to that
 * patch, alternating (off, on, off, on), and reports this process's CPU per
 * operation (process.cpuUsage: time spent waiting for a core is not counted,
 * which makes these steadier than the gateway runs on a busy machine).
 */
import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Server, ServerCredentials, type ServerWritableStream } from "@grpc/grpc-js";
import pg from "pg";
import { Histogram, Registry } from "prom-client";
import { loadMigrations, migrate } from "../../../archiver/src/migrations.js";
import { MessageResponseSchema, PublishResponseSchema } from "../../../gateway/gen/broker/broker_pb.js";
import { ArchiveStore, DEFAULT_ARCHIVE_STORE_OPTIONS } from "../../../gateway/src/engines/archive/archive-store.js";
import { DEFAULT_REDIS_OPTIONS, RedisEngine } from "../../../gateway/src/engines/redis/redis-engine.js";
import { useYoungStreamTablesOnGrpcServer } from "../../../gateway/src/patches/grpc-js-http2-servers.js";
import type { PatchName } from "../../../gateway/src/patches/index.js";
import { LabelFreeHistogram } from "../../../gateway/src/patches/prom-client-label-free-histogram.js";
import { messageWriter } from "../../../gateway/src/transports/grpc/message-writer.js";
import { brokerServiceDefinition } from "../../../gateway/src/transports/grpc/service-definition.js";
import { createDatabase } from "../../../test/support/archive.js";
import { deleteGatewayKeys, REDIS_URL } from "../../../test/support/services.js";
import { BrokerChannels } from "../grpc-client.js";
import { closedLoop } from "../load.js";

export interface Figure {
  readonly patches: string;
  readonly rate: number;
  readonly cpuUs: number | undefined;
  readonly errors: number;
}

const NO_LIMIT = 100_000_000;

/** off, patch, off, patch: `measure` runs with GATEWAY_PATCHES set accordingly. */
async function alternating(patch: string, measure: (patches: string) => Promise<Figure>): Promise<Figure[]> {
  const figures: Figure[] = [];
  try {
    for (const patches of ["off", patch, "off", patch]) {
      process.env.GATEWAY_PATCHES = patches;
      figures.push(await measure(patches));
    }
  } finally {
    delete process.env.GATEWAY_PATCHES;
  }
  return figures;
}

async function cpuPerOp(patches: string, run: () => Promise<{ ops: number; errors: number }>): Promise<Figure> {
  const t0 = performance.now();
  const cpu = process.cpuUsage();
  const { ops, errors } = await run();
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - t0) / 1000;
  return { patches, rate: ops / seconds, cpuUs: (used.user + used.system) / ops, errors };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
}

/** grpc-js-server-call: one Subscribe-shaped stream of 20,000 × 1 KiB messages written through messageWriter (server and client here). */
export function serverStreamWrites(): Promise<Figure[]> {
  const name: PatchName = "grpc-js-server-call";
  const count = 20_000;
  const message = create(MessageResponseSchema, { id: 1n, subject: "s", body: new Uint8Array(1024).fill(7) });
  return alternating(name, async (patches) => {
    const server = new Server();
    server.addService(brokerServiceDefinition, {
      subscribe(call: ServerWritableStream<unknown, typeof message>) {
        const writer = messageWriter(call, (m) => m.body.byteLength);
        let sent = 0;
        const pump = () => {
          while (sent < count) {
            sent += 1;
            if (!writer.write(message)) return;
          }
          call.end();
        };
        writer.onDrain(pump);
        pump();
      },
    });
    const client = new BrokerChannels(`127.0.0.1:${await listen(server)}`, 1);
    try {
      const receive = () =>
        new Promise<number>((resolve, reject) => {
          let received = 0;
          client
            .subscribeBodies(
              "s",
              () => {
                received += 1;
              },
              (err) => (err ? reject(err) : resolve(received)),
            )
            .catch(reject);
        });
      await receive(); // warm-up
      return await cpuPerOp(patches, async () => {
        const received = await receive();
        return { ops: received, errors: count - received };
      });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
}

/** node-http2-stream-tables (with grpc-js-http2-servers): unary calls to a no-op grpc-js server here, 128 in flight over 4 channels. */
export function unaryNoopCalls(seconds: number): Promise<Figure[]> {
  const reply = create(PublishResponseSchema, { id: 1n });
  return alternating("node-http2-stream-tables,grpc-js-http2-servers", async (patches) => {
    const server = new Server();
    server.addService(brokerServiceDefinition, {
      publish: (_call: unknown, callback: (err: null, response: typeof reply) => void) => callback(null, reply),
    });
    const port = await listen(server);
    useYoungStreamTablesOnGrpcServer(server);
    const client = new BrokerChannels(`127.0.0.1:${port}`, 4);
    const body = new Uint8Array(128).fill(7);
    const call = () => client.publish({ subject: "noop", body, expirationSeconds: 60, idempotencyKey: "" });
    try {
      await closedLoop("warm-up", { concurrency: 128, durationMs: 300, maxOps: 5_000 }, call);
      return await cpuPerOp(patches, async () => {
        const result = await closedLoop(
          `no-op unary (${patches})`,
          { concurrency: 128, durationMs: seconds * 1000, maxOps: NO_LIMIT },
          call,
        );
        return { ops: result.ok, errors: result.errors };
      });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
}

/** ioredis-corked-socket: RedisEngine appends of 128 B to 64 subjects, 256 in flight (this process is the gateway side). */
export function engineAppends(seconds: number): Promise<Figure[]> {
  return alternating("ioredis-corked-socket", async (patches) => {
    const keyPrefix = `bench:patches:${randomUUID().slice(0, 8)}:`;
    const engine = new RedisEngine({ ...DEFAULT_REDIS_OPTIONS, url: REDIS_URL, keyPrefix, readerConnections: 1 });
    const body = new Uint8Array(128).fill(7);
    const append = (i: number) => engine.append(`s${i % 64}`, body, Date.now() + 60_000);
    try {
      await engine.ready();
      await closedLoop("warm-up", { concurrency: 256, durationMs: 300, maxOps: 5_000 }, append);
      return await cpuPerOp(patches, async () => {
        const result = await closedLoop(
          `appends (${patches})`,
          { concurrency: 256, durationMs: seconds * 1000, maxOps: NO_LIMIT },
          append,
        );
        return { ops: result.ok, errors: result.errors };
      });
    } finally {
      await engine.close();
      await deleteGatewayKeys(REDIS_URL, keyPrefix);
    }
  });
}

/** pg-point-lookup: ArchiveStore.get of archived ids, 16 in flight over 4 connections. */
export async function archiveLookups(seconds: number): Promise<Figure[]> {
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.url, max: 1 });
  try {
    await migrate(pool, await loadMigrations());
    await pool.query(
      `INSERT INTO broker_messages (subject, id, body, published_at, expires_at)
       SELECT 'lookups', n, decode(repeat('07', 128), 'hex'), 1, 9999999999999 FROM generate_series(1, 1000) AS n`,
    );
    return await alternating("pg-point-lookup", async (patches) => {
      const store = new ArchiveStore({ ...DEFAULT_ARCHIVE_STORE_OPTIONS, url: database.url, maxConnections: 4 });
      let wrong = 0;
      const lookup = async (i: number) => {
        const message = await store.get("lookups", (i % 1000) + 1);
        if (message?.body.byteLength !== 128) wrong += 1;
      };
      try {
        await closedLoop("warm-up", { concurrency: 16, durationMs: 300, maxOps: 5_000 }, lookup);
        return await cpuPerOp(patches, async () => {
          const result = await closedLoop(
            `archive lookups (${patches})`,
            { concurrency: 16, durationMs: seconds * 1000, maxOps: NO_LIMIT },
            lookup,
          );
          return { ops: result.ok, errors: result.errors + wrong };
        });
      } finally {
        await store.close();
      }
    });
  } finally {
    await pool.end();
    await database.drop();
  }
}

/** prom-client-label-free-histogram: observe() alone, 2,000,000 calls. */
export function histogramObserve(): Promise<Figure[]> {
  const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  const count = 2_000_000;
  const plain = new Histogram({ name: "plain", help: "h", buckets, registers: [new Registry()] });
  const labelFree = new LabelFreeHistogram("label_free", "h", buckets, [new Registry()]);
  return alternating("prom-client-label-free-histogram", (patches) => {
    const histogram = patches === "off" ? plain : labelFree;
    return cpuPerOp(patches, async () => {
      for (let i = 0; i < count; i++) histogram.observe((i % 1000) / 10_000);
      return { ops: count, errors: 0 };
    });
  });
}
