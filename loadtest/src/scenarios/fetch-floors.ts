import pg from "pg";
import { LOOKUP_SQL, LOOKUP_STATEMENT } from "../../../gateway/src/patches/pg-point-lookup.js";

import { constantRate, type LoadResult } from "../load.js";
import { RawFetcher } from "../raw-fetcher.js";
import { perOpUs, type ScenarioResult, withServerCpu } from "../results.js";
import { startNoopServer } from "../servers.js";

/**
 * The floors an archived Fetch at a fixed rate is measured against, in the
 * same run: the same load client calling a no-op gRPC server at that rate
 * (what the client and one RPC hop cost), and the same point lookups sent
 * straight to PostgreSQL on the archive's own table (what the database hop
 * costs). The gateway's figure can be no better than either.
 */
export interface FetchLoad {
  readonly ratePerSecond: number;
  readonly warmUpMs: number;
  readonly durationMs: number;
}

function asResult(
  scenario: string,
  target: string,
  run: LoadResult,
  cpuMs?: number,
  extra?: Record<string, number>,
): ScenarioResult {
  return {
    scenario,
    target,
    status: run.errors || run.ok === 0 ? "failed" : "ok",
    ...(run.firstError ? { note: run.firstError } : {}),
    throughput: (run.ok * 1000) / run.elapsedMs,
    unit: "fetches/s",
    latency: run.latency.summary(),
    ...(cpuMs === undefined ? {} : { serverCpuUsPerOp: perOpUs(cpuMs, run.ok) }),
    errors: run.errors,
    ...(extra ? { extra } : {}),
  };
}

/** Fetch answered by the no-op server (an empty message), at the archived Fetch's rate. */
export async function noopFetchFloor(load: FetchLoad): Promise<ScenarioResult> {
  const server = await startNoopServer();
  const client = new RawFetcher(server.address, 2);
  try {
    const fetchOne = (i: number) => client.fetch(`floor-${i % 10}`, i + 1);
    await constantRate(
      "no-op fetch warm-up",
      { ratePerSecond: load.ratePerSecond, durationMs: load.warmUpMs },
      fetchOne,
    );
    const {
      value: run,
      serverCpuMs,
      serverGc,
    } = await withServerCpu(server, () =>
      constantRate("no-op fetch", { ratePerSecond: load.ratePerSecond, durationMs: load.durationMs }, fetchOne),
    );
    return asResult("archived-fetch", "no-op gRPC", run, serverCpuMs, serverGc);
  } finally {
    client.close();
    await server.stop();
  }
}

/**
 * The archive's point lookup (the gateway's own statement, prepared once per
 * connection) straight from the load client through as many connections as
 * the gateway may open, at the same rate.
 */
export async function rawLookupFloor(
  databaseUrl: string,
  load: FetchLoad,
  key: (i: number) => { subject: string; id: number },
): Promise<ScenarioResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  try {
    const lookup = async (i: number) => {
      const { subject, id } = key(i);
      const { rows } = await pool.query({
        name: LOOKUP_STATEMENT,
        text: LOOKUP_SQL,
        values: [subject, id],
      });
      if (rows.length !== 1) throw new Error(`no archived row for ${subject} ${id}`);
    };
    await constantRate("raw lookup warm-up", { ratePerSecond: load.ratePerSecond, durationMs: load.warmUpMs }, lookup);
    const run = await constantRate(
      "raw lookup",
      { ratePerSecond: load.ratePerSecond, durationMs: load.durationMs },
      lookup,
    );
    return asResult("archived-fetch", "raw PostgreSQL", run);
  } finally {
    await pool.end();
  }
}
