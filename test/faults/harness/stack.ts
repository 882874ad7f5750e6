import { FaultArchiver, PrivatePostgres, waitForArchiveTables } from "./archive.js";
import { FaultRedis, type Fsync } from "./fault-redis.js";
import { FaultGateway } from "./gateway.js";

export interface FaultStackOptions {
  /** The private Redis's appendfsync. Default "always". */
  readonly appendfsync?: Fsync;
  /** Gateway WORKERS. Default 1. */
  readonly workers?: number;
  /**
   * Also a private PostgreSQL and an archiver (started, its tables created,
   * before the gateway, which gets DATABASE_URL). An object adds to the
   * archiver's environment.
   */
  readonly archive?: true | Record<string, string>;
}

/** What a scenario breaks: its own Redis and gateway, and with `archive` its own PostgreSQL and archiver. */
export interface FaultStack {
  readonly redis: FaultRedis;
  readonly gateway: FaultGateway;
  readonly postgres: PrivatePostgres | undefined;
  readonly archiver: FaultArchiver | undefined;
  /** Stops and removes everything started, last started first. */
  stop(): Promise<void>;
}

export interface ArchivedFaultStack extends FaultStack {
  readonly postgres: PrivatePostgres;
  readonly archiver: FaultArchiver;
}

/**
 * A small hot window, so the archive (not Redis) answers most Fetches and the
 * slow subscriber's catch-up: the archiver trims Redis to 100 messages per subject.
 */
const HOT_WINDOW = { ARCHIVE_HOT_COUNT: "100", ARCHIVE_HOT_AGE_MS: "0" };

/**
 * Starts a scenario's private services. When one fails to start, what was
 * already started is stopped before the error is thrown, so a scenario's
 * `after` only has the stack to stop once it has one.
 */
export async function startFaultStack(
  options: FaultStackOptions & { archive: true | Record<string, string> },
): Promise<ArchivedFaultStack>;
export async function startFaultStack(options?: FaultStackOptions): Promise<FaultStack>;
export async function startFaultStack(options: FaultStackOptions = {}): Promise<FaultStack> {
  let redis: FaultRedis | undefined;
  let postgres: PrivatePostgres | undefined;
  let archiver: FaultArchiver | undefined;
  let gateway: FaultGateway | undefined;
  const stop = async () => {
    await archiver?.stop();
    await gateway?.stop();
    await postgres?.destroy();
    await redis?.destroy();
  };
  try {
    redis = await FaultRedis.start(options.appendfsync ?? "always");
    const gatewayEnv: Record<string, string> = { REDIS_URL: redis.url };
    if (options.archive) {
      postgres = await PrivatePostgres.start();
      const extra = options.archive === true ? {} : options.archive;
      archiver = new FaultArchiver({ REDIS_URL: redis.url, DATABASE_URL: postgres.url, ...HOT_WINDOW, ...extra });
      archiver.start();
      await waitForArchiveTables(postgres.url);
      gatewayEnv.DATABASE_URL = postgres.url;
    }
    gateway = await FaultGateway.start(gatewayEnv, options.workers ?? 1);
    return { redis, gateway, postgres, archiver, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
