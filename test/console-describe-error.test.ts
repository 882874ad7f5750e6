import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describeError } from "../console/src/describe-error.js";
import { ErrorInfoSchema } from "../gateway/gen/google/rpc/error_details_pb.js";

function gatewayError(code: Code, message: string, reason: string, domain = "broker.gateway"): ConnectError {
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain }) },
  ]);
}

describe("the console names a problem by the gateway's reason, not by its message", () => {
  it("tells unknown, expired, no longer retained and fire-and-forget ids apart by reason", () => {
    const kind = (reason: string) => describeError(gatewayError(Code.InvalidArgument, "whatever the text", reason));
    assert.deepEqual(
      ["UNKNOWN_ID", "EXPIRED", "NO_LONGER_RETAINED", "FIRE_AND_FORGET", "INVALID_SUBJECT"].map((r) => kind(r).kind),
      ["unknown-id", "expired", "expired", "not-fetchable", "invalid"],
    );
    assert.equal(kind("UNKNOWN_ID").detail, "whatever the text", "the message is shown as it came");
  });

  it("no longer reads meaning into message text", () => {
    const problem = describeError(
      new ConnectError("unknown id: no message 9 has been published", Code.InvalidArgument),
    );
    assert.equal(problem.kind, "invalid");
    assert.equal(problem.title, "Invalid request");
  });

  it("ignores reasons of another domain", () => {
    const foreign = gatewayError(Code.InvalidArgument, "x", "UNKNOWN_ID", "example.com");
    assert.equal(describeError(foreign).kind, "invalid");
  });

  it("words storage outages and shutdowns, and a gateway it cannot reach", () => {
    assert.equal(
      describeError(gatewayError(Code.Unavailable, "x", "STORAGE_UNAVAILABLE")).title,
      "Storage unavailable",
    );
    assert.equal(describeError(gatewayError(Code.Unavailable, "x", "SHUTTING_DOWN")).title, "Gateway shutting down");
    const unreachable = describeError(new ConnectError("Failed to fetch", Code.Unavailable));
    assert.deepEqual([unreachable.title, unreachable.kind], ["Cannot reach the gateway", "unreachable"]);
    assert.equal(describeError(gatewayError(Code.Internal, "internal error", "INTERNAL")).title, "Gateway error");
  });
});
