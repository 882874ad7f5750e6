import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { PublishRequestSchema } from "../gateway/gen/broker/broker_pb.js";
import { compressedFlagChecked } from "../gateway/src/patches/grpc-js-call-internals.js";
import { brokerClient } from "./support/clients.js";
import { gatewayForSuite } from "./support/gateway.js";
import { grpcFrame, grpcWebStatus, rawGrpcCall, rawHttpRequest } from "./support/raw-calls.js";

/** Request bodies no client library would send, each the client's fault. */
const valid = Buffer.from(
  toBinary(PublishRequestSchema, create(PublishRequestSchema, { subject: "ok", body: new Uint8Array([1]) })),
);
const MALFORMED: { name: string; frame: Buffer; reason: RegExp }[] = [
  // field 1 announces 5 bytes, 1 follows
  { name: "a truncated protobuf", frame: grpcFrame(Buffer.from([0x0a, 0x05, 0x61])), reason: /malformed request/ },
  // subject = C3 28: a lead byte without its continuation
  { name: "invalid UTF-8 in the subject", frame: grpcFrame(Buffer.from([0x0a, 0x02, 0xc3, 0x28])), reason: /utf-8/i },
  {
    name: "a frame marked compressed without grpc-encoding",
    frame: grpcFrame(valid, { compressed: true }),
    reason: /compressed/,
  },
];

describe("malformed requests are the client's fault: INVALID_ARGUMENT, never INTERNAL", () => {
  const suite = gatewayForSuite("memory");

  it("patches grpc-js's compressed-flag check (the one grpc-js internal the gateway touches)", () => {
    assert.equal(compressedFlagChecked(), true, "BaseServerInterceptingCall.decompressMessage not found");
  });

  for (const { name, frame, reason } of MALFORMED) {
    it(`native gRPC port (grpc-js): ${name}`, async () => {
      for (const method of ["Publish", "PublishBatch", "Subscribe", "Fetch"]) {
        // The same bytes are malformed for every request type (field 1 is a string or a message).
        const outcome = await rawGrpcCall(suite.gateway.grpcPort, method, frame);
        assert.equal(outcome.status, Code.InvalidArgument, `${method}: ${outcome.message}`);
        if (method === "Publish") assert.match(outcome.message, reason);
      }
    });

    it(`HTTP port, gRPC over h2c (connect-node): ${name}`, async () => {
      const outcome = await rawGrpcCall(suite.gateway.httpPort, "Publish", frame);
      assert.equal(outcome.status, Code.InvalidArgument, outcome.message);
      assert.match(outcome.message, reason);
    });

    it(`HTTP port, gRPC-Web over HTTP/1.1: ${name}`, async () => {
      const outcome = await rawHttpRequest(suite.gateway.httpPort, "/broker.Broker/Publish", {
        headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
        body: frame,
      });
      const { status, message } = grpcWebStatus(outcome);
      assert.equal(status, Code.InvalidArgument, message);
      assert.match(message, reason);
    });

    it(`HTTP port, Connect streaming (Subscribe): ${name}`, async () => {
      const outcome = await rawHttpRequest(suite.gateway.httpPort, "/broker.Broker/Subscribe", {
        headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1" },
        body: frame,
      });
      assert.equal(outcome.status, 200, "Connect streams carry their error in the end-of-stream message");
      const endStream = JSON.parse(outcome.body.subarray(5).toString("utf8")) as { error?: { code: string } };
      assert.equal(endStream.error?.code, "invalid_argument", outcome.body.toString("utf8"));
    });
  }

  it("HTTP port, Connect unary: a truncated or non-UTF-8 body gets HTTP 400 invalid_argument", async () => {
    for (const body of [Buffer.from([0x0a, 0x05, 0x61]), Buffer.from([0x0a, 0x02, 0xc3, 0x28])]) {
      const outcome = await rawHttpRequest(suite.gateway.httpPort, "/broker.Broker/Publish", {
        headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
        body,
      });
      assert.equal(outcome.status, 400, outcome.body.toString("utf8"));
      const error = JSON.parse(outcome.body.toString("utf8")) as { code: string; message: string };
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, /malformed request: cannot decode broker\.PublishRequest/);
    }
  });

  it("a frame that announces more bytes than the request carries is refused, not waited for", async () => {
    const outcome = await rawGrpcCall(suite.gateway.httpPort, "Publish", grpcFrame(valid, { announced: 100 }));
    assert.equal(outcome.status, Code.InvalidArgument, outcome.message);
    assert.match(outcome.message, /truncated frame/);
  });

  it("keeps serving well-formed calls on every route afterwards", async () => {
    for (const route of ["grpc", "connect", "grpc-web"] as const) {
      const client = brokerClient(suite.gateway, route);
      const published = await client.publish({
        subject: "after-malformed",
        body: new Uint8Array([1]),
        expirationSeconds: 60,
      });
      assert.ok(published.id > 0n, route);
    }
  });
});
