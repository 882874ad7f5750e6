import net from "node:net";
import tls from "node:tls";
import { RespError, RespParser, type RespValue } from "./resp-parser.js";

export interface BulkRedisOptions {
  /** Longest wait for a call's replies (connecting included); then the connection is dropped. */
  readonly commandTimeoutMs: number;
  readonly connectionName: string;
}

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username: string;
  readonly password: string;
  readonly db: number;
}

type Command = readonly (string | Buffer)[];

interface Waiting {
  resolve(reply: RespValue): void;
  reject(err: Error): void;
}

/**
 * A second Redis connection for the archiver's bulk reads (XRANGE of
 * thousands of entries), with its own RESP parser (resp-parser.ts). ioredis
 * 6 decodes a reply at ~0.5 µs per element, and an entry is nine elements:
 * under the bench that decoding was the largest part of the archiver's CPU,
 * and this parser does the same replies in about a third of the time. Only
 * plain pipelined commands: no pub/sub, no retries (a failed call rejects,
 * the archiver's pass fails and is retried with backoff, and the next call
 * connects again). `forUrl` returns undefined for URLs it does not handle
 * (query options, sockets): the caller then keeps using ioredis.
 */
export class BulkRedis {
  private socket: net.Socket | undefined;
  private ready: Promise<void> | undefined;
  private readonly waiting: Waiting[] = [];
  private readonly parser = new RespParser((reply) => this.waiting.shift()?.resolve(reply));

  private constructor(
    private readonly endpoint: Endpoint,
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
    return new BulkRedis(
      {
        host: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: parsed.port === "" ? 6379 : Number(parsed.port),
        tls: parsed.protocol === "rediss:",
        username: decodeURIComponent(parsed.username),
        password: decodeURIComponent(parsed.password),
        db,
      },
      options,
    );
  }

  /** Sends the commands in one write; resolves with their replies in order (error replies as RespError values). */
  async call(commands: readonly Command[]): Promise<RespValue[]> {
    const timer = setTimeout(() => this.drop(new Error("bulk Redis call timed out")), this.options.commandTimeoutMs);
    try {
      await this.connect();
      const socket = this.socket;
      if (!socket) throw new Error("bulk Redis connection lost");
      const replies = commands.map(
        () => new Promise<RespValue>((resolve, reject) => this.waiting.push({ resolve, reject })),
      );
      socket.write(Buffer.concat(commands.map(encodeCommand)));
      return await Promise.all(replies);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.drop(new Error("bulk Redis connection closed"));
  }

  private connect(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const { host, port } = this.endpoint;
      const socket = this.endpoint.tls ? tls.connect({ host, port, servername: host }) : net.connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      // Events of a socket already replaced (dropped, then connected again) are ignored.
      const fail = (err: Error) => {
        if (this.socket === socket) this.drop(err);
      };
      socket.on("data", (chunk: Buffer) => {
        if (this.socket !== socket) return;
        try {
          this.parser.feed(chunk);
        } catch (err) {
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
      socket.on("error", fail);
      socket.on("close", () => fail(new Error("bulk Redis connection lost")));
      socket.once(this.endpoint.tls ? "secureConnect" : "connect", () => {
        this.handshake().then(resolve, (err: Error) => {
          fail(err);
          reject(err);
        });
      });
      // A connection that fails before it is up rejects the call waiting for it.
      socket.once("close", () => reject(new Error("bulk Redis connection lost")));
    });
    return this.ready;
  }

  /** AUTH and SELECT as the URL says, and a name for CLIENT LIST; any error reply fails the connection. */
  private async handshake(): Promise<void> {
    const { username, password, db } = this.endpoint;
    const commands: Command[] = [["CLIENT", "SETNAME", this.options.connectionName]];
    if (password !== "") commands.unshift(username !== "" ? ["AUTH", username, password] : ["AUTH", password]);
    if (db !== 0) commands.push(["SELECT", String(db)]);
    const socket = this.socket as net.Socket;
    const replies = commands.map(
      () => new Promise<RespValue>((resolve, reject) => this.waiting.push({ resolve, reject })),
    );
    socket.write(Buffer.concat(commands.map(encodeCommand)));
    for (const reply of await Promise.all(replies)) {
      if (reply instanceof RespError) throw reply;
    }
  }

  /** Ends the connection; everything waiting on it fails with `err`. */
  private drop(err: Error): void {
    const socket = this.socket;
    this.socket = undefined;
    this.ready = undefined;
    this.parser.reset();
    for (const waiting of this.waiting.splice(0)) waiting.reject(err);
    socket?.destroy();
  }
}

/** A command as a RESP array of bulk strings. */
function encodeCommand(command: Command): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${command.length}\r\n`)];
  for (const arg of command) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from("\r\n");
