import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { rejectsWith } from "./support/assertions.js";
import { brokerClient } from "./support/clients.js";
import { GatewayProcess, spawnGateway } from "./support/gateway-process.js";
import { freePort } from "./support/node-process.js";
import { bytes } from "./support/streams.js";
import { TEST_SECRET } from "./support/tokens.js";

const OPEN_WARNING = /AUTHENTICATION IS OFF/;

describe("the gateway process and authentication", () => {
  it("runs open without AUTH_* and says so once, loudly, at start", async () => {
    const gateway = await spawnGateway({});
    try {
      const warnings = gateway.process.logs.filter((line) => OPEN_WARNING.test(line.msg));
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]?.level, "warn");
      const client = brokerClient(gateway, "connect");
      assert.equal((await client.publish({ subject: "open", body: bytes("x"), expirationSeconds: 60 })).id, 1n);
    } finally {
      await gateway.process.stop();
    }
  });

  it("with AUTH_JWT_SECRET set, logs which key source is on, does not warn, and refuses anonymous calls", async () => {
    const gateway = await spawnGateway({ AUTH_JWT_SECRET: TEST_SECRET });
    try {
      const on = gateway.process.logs.find((line) => line.msg === "auth on");
      assert.equal(on?.key, "AUTH_JWT_SECRET");
      assert.ok(!JSON.stringify(gateway.process.logs).includes(TEST_SECRET), "the secret is logged");
      assert.equal(gateway.process.logs.filter((line) => OPEN_WARNING.test(line.msg)).length, 0);
      await rejectsWith(
        brokerClient(gateway, "grpc").publish({ subject: "s", body: bytes("x"), expirationSeconds: 60 }),
        Code.Unauthenticated,
        /missing token/,
      );
    } finally {
      await gateway.process.stop();
    }
  });

  it("stops at start with a message naming the variable when an AUTH_* value is unusable", async () => {
    const child = new GatewayProcess({
      AUTH_JWT_SECRET: "too-short",
      GRPC_PORT: String(await freePort()),
      HTTP_PORT: String(await freePort()),
    });
    try {
      const { code } = await child.exited;
      assert.equal(code, 1);
      assert.ok(
        child.logs.some((line) => line.level === "error" && /AUTH_JWT_SECRET must be at least 32 bytes/.test(line.msg)),
        JSON.stringify(child.logs),
      );
    } finally {
      await child.stop();
    }
  });
});
