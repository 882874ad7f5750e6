import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { types } from "node:util";
import { universalResponseToNodeResponse } from "@connectrpc/connect-node";
import { Server, ServerCredentials, type ServerWritableStream } from "@grpc/grpc-js";
import { Redis } from "ioredis";
import pg from "pg";
import { serialize } from "pg-protocol";
import { http2ServersOf } from "../gateway/src/patches/grpc-js-http2-servers.js";
import { findCallBeneath } from "../gateway/src/patches/grpc-js-server-call.js";
import { PATCHES, parsePatches, patchEnabled } from "../gateway/src/patches/index.js";
import { observeCommands } from "../gateway/src/patches/ioredis-command-hook.js";
import { sessionState } from "../gateway/src/patches/node-http2-stream-tables.js";
import { ConfigError } from "../gateway/src/process/env.js";
import { brokerServiceDefinition } from "../gateway/src/transports/grpc/service-definition.js";
import { brokerClient } from "./support/clients.js";
import { DATABASE_URL, REDIS_URL } from "./support/services.js";

/*
 * Each patch in gateway/src/patches reaches into a library's private
 * internals. These tests look at a real instance of each library and fail
 * when the field or behaviour a patch relies on changes shape, whether or not
 * the patches are on (GATEWAY_PATCHES), so an upgrade cannot silently turn a
 * patch into a no-op or a crash. label-free-histogram.test.ts does the same
 * for prom-client's registry contract, http2-stream-tables.test.ts for node's
 * session tables in use.
 */

describe("GATEWAY_PATCHES", () => {
  it("turns every patch on by default and with 'on', none with 'off', and exactly those listed otherwise", () => {
    assert.deepEqual([...parsePatches(undefined)], [...PATCHES]);
    assert.deepEqual([...parsePatches("on")], [...PATCHES]);
    assert.deepEqual([...parsePatches("off")], []);
    assert.deepEqual(
      [...parsePatches("pg-point-lookup, ioredis-corked-socket")],
      ["pg-point-lookup", "ioredis-corked-socket"],
    );
    assert.equal(patchEnabled("pg-point-lookup", { GATEWAY_PATCHES: "off" }), false);
    assert.equal(patchEnabled("pg-point-lookup", { GATEWAY_PATCHES: "pg-point-lookup" }), true);
  });

  it("refuses an unknown patch name, naming the variable", () => {
    assert.throws(() => parsePatches("of"), ConfigError);
    assert.throws(
      () => parsePatches("on,grpc-js-server-call"),
      /GATEWAY_PATCHES must be on, off or a list of .*unknown: on/,
    );
  });
});

describe("@grpc/grpc-js still has what the grpc-js patches use", () => {
  let server: Server;
  let port: number;
  const calls: ServerWritableStream<unknown, unknown>[] = [];

  before(async () => {
    server = new Server();
    server.addService(brokerServiceDefinition, {
      subscribe(call: ServerWritableStream<unknown, unknown>) {
        calls.push(call);
        call.end();
      },
    });
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
        err ? reject(err) : resolve(bound),
      ),
    );
  });

  after(() => server.forceShutdown());

  it("a server stream's private `call` with sendMessage(message, callback) (grpc-js-server-call)", async () => {
    const client = brokerClient({ grpcPort: port, httpPort: 0 }, "grpc");
    for await (const _ of client.subscribe({ subject: "shape" })) break;
    const call = calls.at(-1);
    assert.ok(call, "the handler ran");
    const sendMessage = (call as unknown as { call?: { sendMessage?: unknown } }).call?.sendMessage;
    assert.equal(typeof sendMessage, "function");
    assert.equal((sendMessage as (...args: unknown[]) => unknown).length, 2);
    assert.ok(findCallBeneath(call));
  });

  it("the private Server.http2Servers: a Map of bound http2 servers to their open sessions (grpc-js-http2-servers)", async () => {
    const servers = http2ServersOf(server);
    assert.ok(servers, "Server.http2Servers is a Map");
    assert.equal(servers.size, 1);
    const [entry] = [...servers];
    assert.ok(entry);
    const [http2Server, info] = entry;
    assert.ok(http2Server instanceof EventEmitter);
    assert.equal(http2Server.listenerCount("session") > 0, true, "grpc-js listens for sessions on it");
    assert.ok(info.sessions instanceof Set);
    // A connected client is one more session in that set.
    const open = info.sessions.size;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      await new Promise<void>((resolve, reject) => client.once("connect", () => resolve()).once("error", reject));
      for (let i = 0; i < 50 && info.sessions.size === open; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(info.sessions.size, open + 1);
    } finally {
      client.close();
    }
  });
});

describe("node:http2 still has what node-http2-stream-tables uses", () => {
  it("a session's private state (symbol 'state') with a `streams` Map and a `pendingStreams` Set", async () => {
    const server = http2.createServer();
    const seen = new Promise<http2.Http2Session>((resolve) => server.once("session", resolve));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const state = sessionState(await seen);
      assert.ok(state, "the session has a symbol-keyed state object");
      assert.ok(types.isMap(state.streams));
      assert.ok(types.isSet(state.pendingStreams));
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("@connectrpc/connect-node still writes its head the way connect-node-early-headers expects", () => {
  it("calls the response's writeHead exactly once, before the first body chunk, and then writes the body", async () => {
    const events: string[] = [];
    const server = http.createServer((_request, response) => {
      const writeHead = response.writeHead.bind(response);
      const write = response.write.bind(response);
      (response as { writeHead: unknown }).writeHead = (...args: Parameters<typeof writeHead>) => {
        events.push("writeHead");
        return writeHead(...args);
      };
      (response as { write: unknown }).write = (...args: Parameters<typeof write>) => {
        events.push("write");
        return write(...args);
      };
      async function* body() {
        events.push("first chunk asked");
        yield new Uint8Array([1]);
        yield new Uint8Array([2]);
      }
      void universalResponseToNodeResponse({ status: 200, header: new Headers(), body: body() }, response);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.deepEqual([...new Uint8Array(await response.arrayBuffer())], [1, 2]);
      assert.equal(events.filter((event) => event === "writeHead").length, 1);
      assert.deepEqual(events.slice(0, 3), ["first chunk asked", "writeHead", "write"]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("ioredis still writes the way ioredis-corked-socket expects", () => {
  it("a ready connection's `stream` is its socket, and sendCommand writes to it synchronously", async () => {
    const redis = new Redis(REDIS_URL, { protocol: 2, enableAutoPipelining: false, lazyConnect: true });
    try {
      await redis.connect();
      const socket = redis.stream as Socket;
      assert.equal(typeof socket.cork, "function");
      socket.cork();
      const before = socket.writableLength;
      const reply = redis.ping("corked");
      // Written (into the corked socket's buffer) before ping() returned.
      assert.ok(socket.writableLength > before, `${socket.writableLength} bytes buffered`);
      socket.uncork();
      assert.equal(await reply, "corked");
    } finally {
      redis.disconnect();
    }
  });
});

describe("ioredis still sends every command the way ioredis-command-hook expects", () => {
  it("passes direct, pipelined and auto-pipelined commands through the instance's sendCommand", async () => {
    for (const enableAutoPipelining of [false, true]) {
      const redis = new Redis(REDIS_URL, { protocol: 2, enableAutoPipelining, lazyConnect: true });
      try {
        await redis.connect();
        const seen: string[] = [];
        observeCommands(redis, (command) => seen.push(command.name.toLowerCase()));
        await redis.echo("direct");
        await redis.pipeline().echo("a").ping().exec();
        await Promise.all([redis.echo("same"), redis.echo("turn")]);
        assert.deepEqual(
          seen,
          ["echo", "echo", "ping", "echo", "echo"],
          `enableAutoPipelining: ${enableAutoPipelining}`,
        );
      } finally {
        redis.disconnect();
      }
    }
  });
});

describe("pg still runs a Submittable the way pg-point-lookup expects", () => {
  it("hands submit() the Connection with its socket as `stream`, then calls the row, and ready handlers", async () => {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      const calls: string[] = [];
      const rows: (string | null)[][] = [];
      const done = new Promise<void>((resolve, reject) => {
        const submittable = {
          submit(connection: pg.Connection) {
            calls.push("submit");
            assert.equal(typeof connection.stream.write, "function");
            assert.equal(typeof (connection.stream as Socket).cork, "function");
            const statement = "patches-shape";
            connection.stream.write(
              Buffer.concat([
                serialize.parse({ name: statement, text: "SELECT $1::text AS echo, 'b' AS other" }),
                serialize.bind({ statement, values: ["a"] }),
                serialize.execute({}),
                serialize.sync(),
              ]),
            );
          },
          handleRowDescription: () => calls.push("rowDescription"),
          handleDataRow(msg: { fields: (string | null)[] }) {
            rows.push(msg.fields);
          },
          handleCommandComplete: () => calls.push("commandComplete"),
          handleReadyForQuery() {
            calls.push("readyForQuery");
            resolve();
          },
          handleError: (err: Error) => reject(err),
          handleEmptyQuery() {},
          handlePortalSuspended() {},
          handleCopyInResponse() {},
          handleCopyData() {},
          callback() {},
        };
        client.query(submittable as unknown as pg.Submittable);
      });
      await done;
      assert.deepEqual(rows, [["a", "b"]]);
      assert.deepEqual(calls, ["submit", "commandComplete", "readyForQuery"]);
    } finally {
      await client.end();
    }
  });
});
