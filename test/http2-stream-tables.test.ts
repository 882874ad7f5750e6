import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { PendingStreams, replaceStreamTables, StreamsById } from "../gateway/src/patches/node-http2-stream-tables.js";

describe("HTTP/2 stream tables that let finished calls die young", () => {
  it("behave as the Map of streams by id node:http2 uses", () => {
    const streams = new StreamsById<string>([[1, "a"]]);
    streams.set(3, "b").set(5, "c");
    assert.equal(streams.size, 3);
    assert.equal(streams.get(3), "b");
    assert.equal(streams.has(7), false);
    assert.equal(streams.delete(3), true);
    assert.equal(streams.delete(3), false);
    streams.set(1, "a2");
    assert.equal(streams.size, 2);
    const seen: [number, string][] = [];
    // A stream destroying itself, and another one, during the walk.
    streams.set(9, "d");
    streams.forEach((value, id, map) => {
      seen.push([id, value]);
      if (id === 1) map.delete(5);
    });
    assert.deepEqual(seen, [
      [1, "a2"],
      [9, "d"],
    ]);
    assert.equal(streams.size, 2);
  });

  it("behave as the Set of pending streams node:http2 uses", () => {
    const pending = new PendingStreams<object>();
    const [a, b, c] = [{}, {}, {}];
    pending.add(a).add(b).add(a).add(c);
    assert.equal(pending.size, 3);
    assert.equal(pending.delete(a), true);
    assert.equal(pending.delete(a), false);
    assert.equal(pending.has(c), true);
    const seen: object[] = [];
    pending.forEach((value, _same, set) => {
      seen.push(value);
      set.delete(value);
    });
    assert.equal(seen.length, 2);
    assert.equal(pending.size, 0);
  });

  it("replace this Node's session tables, and requests still work over them", async () => {
    const server = http2.createServer();
    let replaced: boolean | undefined;
    server.on("session", (session) => {
      replaced = replaceStreamTables(session);
    });
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const bodies = await Promise.all(
        Array.from(
          { length: 20 },
          () =>
            new Promise<string>((resolve, reject) => {
              const request = client.request({ ":path": "/" });
              let body = "";
              request.setEncoding("utf8");
              request.on("data", (chunk: string) => {
                body += chunk;
              });
              request.on("end", () => resolve(body));
              request.on("error", reject);
              request.end();
            }),
        ),
      );
      assert.deepEqual(new Set(bodies), new Set(["ok"]));
      // If a Node upgrade renames these internals, this says so (the gateway then keeps Node's tables).
      assert.equal(replaced, true);
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
