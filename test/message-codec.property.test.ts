import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { type PublishRequest, PublishRequestSchema } from "../gateway/gen/broker/broker_pb.js";
import { decodePublishRequest } from "../gateway/src/transports/grpc/message-codec.js";

/**
 * The PublishRequest decoder parses untrusted bytes from the network. Its
 * contract: for ANY input it either returns exactly what protobuf-es's
 * fromBinary returns, or throws when fromBinary throws (the transport then
 * answers INVALID_ARGUMENT). It never crashes differently, never accepts
 * what protobuf-es refuses and never decodes to something else.
 */
const RUNS = 2_000;

type Outcome = { ok: true; value: PublishRequest } | { ok: false };

function outcome(decode: () => PublishRequest): Outcome {
  try {
    return { ok: true, value: decode() };
  } catch {
    return { ok: false };
  }
}

function assertSameAsProtobufEs(bytes: Uint8Array): void {
  const expected = outcome(() => fromBinary(PublishRequestSchema, bytes));
  const actual = outcome(() => decodePublishRequest(Buffer.from(bytes)));
  assert.equal(actual.ok, expected.ok, `decoder ${actual.ok ? "accepted" : "refused"} what protobuf-es did not`);
  if (actual.ok && expected.ok) {
    assert.equal(actual.value.subject, expected.value.subject);
    assert.deepEqual(Buffer.from(actual.value.body), Buffer.from(expected.value.body));
    assert.equal(actual.value.expirationSeconds, expected.value.expirationSeconds);
    assert.equal(actual.value.idempotencyKey, expected.value.idempotencyKey);
  }
}

const publishRequest = fc.record({
  subject: fc.string({ unit: "grapheme", maxLength: 40 }),
  body: fc.uint8Array({ maxLength: 300 }),
  expirationSeconds: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  idempotencyKey: fc.string({ maxLength: 20 }),
});

const encoded = publishRequest.map((init) => toBinary(PublishRequestSchema, create(PublishRequestSchema, init)));

/** An encoding with some bytes overwritten, some removed, or cut short. */
const mutated = fc
  .tuple(
    encoded,
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
    fc.nat(),
    fc.boolean(),
  )
  .map(([bytes, edits, cut, truncate]) => {
    const out = Uint8Array.from(bytes);
    for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
    return truncate && out.length > 0 ? out.subarray(0, cut % out.length) : out;
  });

describe("The PublishRequest decoder on untrusted bytes", () => {
  it("decodes every valid encoding to the request that was encoded", () => {
    fc.assert(
      fc.property(publishRequest, (init) => {
        const decoded = decodePublishRequest(
          Buffer.from(toBinary(PublishRequestSchema, create(PublishRequestSchema, init))),
        );
        assert.equal(decoded.subject, init.subject);
        assert.deepEqual(Buffer.from(decoded.body), Buffer.from(init.body));
        assert.equal(decoded.expirationSeconds, init.expirationSeconds);
        assert.equal(decoded.idempotencyKey, init.idempotencyKey);
      }),
      { numRuns: RUNS },
    );
  });

  it("agrees with protobuf-es on random bytes: the same request, or a refusal", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), assertSameAsProtobufEs), { numRuns: RUNS });
  });

  it("agrees with protobuf-es on mutated and truncated encodings", () => {
    fc.assert(fc.property(mutated, assertSameAsProtobufEs), { numRuns: RUNS });
  });

  it("refuses invalid UTF-8 in the subject, as protobuf-es does", () => {
    const bytes = Uint8Array.from([0x0a, 0x02, 0xc3, 0x28]); // subject: a truncated two-byte sequence
    assert.throws(() => fromBinary(PublishRequestSchema, bytes));
    assert.throws(() => decodePublishRequest(Buffer.from(bytes)));
  });
});
