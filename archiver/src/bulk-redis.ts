import { createClient, ErrorReply, RESP_TYPES } from "@redis/client";

export interface BulkRedisOptions {
  /** Longest wait for a call's replies (connecting included); then the connection is dropped. */
  readonly commandTimeoutMs: number;
  readonly connectionName: string;
}

/** A command's words; replies keep bulk strings as Buffers. */
type Command = readonly (string | Buffer)[];

function connectBulkClient(url: string, options: BulkRedisOptions) {
  const client = createClient({
    url,
    name: options.connectionName,
    RESP: 2,
    disableClientInfo: true,
    // No reconnecting in the background: a failed call fails the archiver's
    // pass (retried with backoff), and the next call connects afresh.
    socket: { connectTimeout: options.commandTimeoutMs, reconnectStrategy: false },
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on("error", () => {}); // surfaced by the failing call
  return client;
}

type BulkClient = ReturnType<typeof connectBulkClient>;

/**
 * A second Redis connection for the archiver's bulk reads (XRANGE of
 * thousands of entries), through node-redis (@redis/client): ioredis 6
 * decodes a reply at ~0.5 µs per element, and an entry is nine elements,
 * which under the bench was the largest part of the archiver's CPU. On an
 * XRANGE of 5,000 gateway entries node-redis's decoder took ~1.0-1.5 µs of
 * client CPU per entry, ioredis ~3.2-3.8. Everything else stays on ioredis.
 * Commands of one call go out together (node-redis pipelines what is sent in
 * one tick). `forUrl` returns undefined for URLs it does not handle (query
 * options, sockets): the caller then keeps using ioredis.
 */
export class BulkRedis {
  private client: Promise<BulkClient> | undefined;

  private constructor(
    private readonly url: string,
    private readonly options: BulkRedisOptions,
  ) {}

  static forUrl(url: string, options: BulkRedisOptions): BulkRedis | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") return undefined;
    if (parsed.search !== "" || parsed.hostname === "") return undefined;
    const db = parsed.pathname === "" || parsed.pathname === "/" ? 0 : Number(parsed.pathname.slice(1));
    if (!Number.isInteger(db) || db < 0) return undefined;
    return new BulkRedis(url, options);
  }

  /**
   * Sends the commands together; resolves with their replies in order. An
   * error reply rejects the call; a call that fails otherwise, or takes
   * longer than commandTimeoutMs, drops the connection.
   */
  async call(commands: readonly Command[]): Promise<unknown[]> {
    this.client ??= this.connect();
    const client = this.client;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("bulk Redis call timed out")), this.options.commandTimeoutMs);
    });
    try {
      return await Promise.race([
        client.then((c) => Promise.all(commands.map((command) => c.sendCommand(command)))),
        timedOut,
      ]);
    } catch (err) {
      if (!(err instanceof ErrorReply)) this.drop(client);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    if (this.client) this.drop(this.client);
  }

  private async connect(): Promise<BulkClient> {
    const client = connectBulkClient(this.url, this.options);
    try {
      await client.connect();
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  /** Ends `client`'s connection (commands waiting on it fail); the next call connects again. */
  private drop(client: Promise<BulkClient>): void {
    if (this.client === client) this.client = undefined;
    client.then(
      (c) => c.destroy(),
      () => {},
    );
  }
}
