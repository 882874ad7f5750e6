import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { MessageResponseSchema, PublishRequestSchema, PublishResponseSchema } from "../gateway/gen/broker/broker_pb.js";
import {
  decodePublishRequest,
  encodeMessageResponse,
  encodePublishResponse,
} from "../gateway/src/transports/grpc/message-codec.js";

type Init = Parameters<typeof create<typeof MessageResponseSchema>>[1];

const CASES: [string, Init][] = [
  ["an empty message", {}],
  [
    "a typical message",
    { body: new Uint8Array(128).fill(7), id: 42n, subject: "orders", publishedAtMs: 1_764_000_000_000n },
  ],
  ["an empty body", { id: 1n, subject: "s", publishedAtMs: 5n }],
  ["a body of 127, 128 and 300 bytes", { body: new Uint8Array(300).fill(1), id: 127n, subject: "x" }],
  ["ids at varint boundaries", { id: 128n, publishedAtMs: 16_384n }],
  ["the largest safe integer", { id: BigInt(Number.MAX_SAFE_INTEGER), publishedAtMs: 2n ** 35n }],
  ["an id beyond 2^53 (protobuf-es path)", { id: 2n ** 60n + 3n, subject: "big" }],
  ["a negative id (protobuf-es path)", { id: -1n }],
  ["a multi-byte UTF-8 subject", { subject: "naïve-主題-🚀", body: new Uint8Array([0, 255]) }],
  ["a gap (protobuf-es path)", { id: 9n, subject: "g", gap: { firstId: 3n, lastId: 8n, reason: "trimmed" } }],
];

describe("The hand-written MessageResponse encoder", () => {
  for (const [name, init] of CASES) {
    it(`writes the same bytes as protobuf-es for ${name}`, () => {
      const message = create(MessageResponseSchema, init);
      const expected = Buffer.from(toBinary(MessageResponseSchema, message));
      const actual = encodeMessageResponse(message);
      assert.deepEqual(actual, expected);
      assert.deepEqual(fromBinary(MessageResponseSchema, new Uint8Array(actual)), message);
    });
  }

  it("encodes a message object once however many times it is written (fan-out)", () => {
    const message = create(MessageResponseSchema, { body: new Uint8Array(16), id: 3n, subject: "fan" });
    assert.equal(encodeMessageResponse(message), encodeMessageResponse(message));
  });

  it("matches protobuf-es on 2,000 random messages", () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2_000; i++) {
      const message = create(MessageResponseSchema, {
        body: Uint8Array.from({ length: Math.floor(random() * 400) }, () => Math.floor(random() * 256)),
        id: BigInt(Math.floor(random() * 2 ** Math.floor(random() * 53))),
        subject: "s".repeat(Math.floor(random() * 200)),
        publishedAtMs: BigInt(Math.floor(random() * 2 ** 45)),
      });
      assert.deepEqual(encodeMessageResponse(message), Buffer.from(toBinary(MessageResponseSchema, message)));
    }
  });
});

describe("The hand-written PublishRequest decoder", () => {
  const cases: [string, Parameters<typeof create<typeof PublishRequestSchema>>[1]][] = [
    ["an empty request", {}],
    ["a typical request", { subject: "orders", body: new Uint8Array(128).fill(5), expirationSeconds: 60 }],
    ["an idempotency key and a UTF-8 subject", { subject: "主題-ü", body: new Uint8Array([1]), idempotencyKey: "k-1" }],
    ["the largest int32 expiration", { subject: "s", expirationSeconds: 2 ** 31 - 1 }],
    ["a negative expiration (protobuf-es path)", { subject: "s", expirationSeconds: -5 }],
    ["a large body", { subject: "big", body: new Uint8Array(70_000).fill(9) }],
  ];
  for (const [name, init] of cases) {
    it(`yields what protobuf-es yields for ${name}`, () => {
      const bytes = Buffer.from(toBinary(PublishRequestSchema, create(PublishRequestSchema, init)));
      assert.deepEqual(decodePublishRequest(bytes), fromBinary(PublishRequestSchema, bytes));
    });
  }

  it("leaves unknown fields, repeated fields and invalid UTF-8 to protobuf-es", () => {
    const known = Buffer.from(toBinary(PublishRequestSchema, create(PublishRequestSchema, { subject: "a" })));
    const unknownField = Buffer.concat([known, Buffer.from([0x28, 0x01])]); // field 5, varint 1
    assert.deepEqual(decodePublishRequest(unknownField), fromBinary(PublishRequestSchema, unknownField));
    const twice = Buffer.concat([known, Buffer.from([0x0a, 0x01, 0x62])]); // subject again: last wins
    assert.deepEqual(decodePublishRequest(twice), fromBinary(PublishRequestSchema, twice));
    const badUtf8 = Buffer.from([0x0a, 0x02, 0xc3, 0x28]);
    assert.throws(() => fromBinary(PublishRequestSchema, badUtf8));
    assert.throws(() => decodePublishRequest(badUtf8));
    const truncated = Buffer.from([0x0a, 0x05, 0x61]);
    assert.throws(() => decodePublishRequest(truncated));
  });

  it("matches protobuf-es on 2,000 random requests", () => {
    let seed = 777;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2_000; i++) {
      const bytes = Buffer.from(
        toBinary(
          PublishRequestSchema,
          create(PublishRequestSchema, {
            subject: "s".repeat(Math.floor(random() * 150)),
            body: Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
            expirationSeconds: Math.floor(random() * 2 ** Math.floor(random() * 31)),
            idempotencyKey: random() < 0.3 ? `key-${i}` : "",
          }),
        ),
      );
      assert.deepEqual(decodePublishRequest(bytes), fromBinary(PublishRequestSchema, bytes));
    }
  });
});

describe("The hand-written PublishResponse encoder", () => {
  it("writes the same bytes as protobuf-es", () => {
    for (const id of [0n, 1n, 127n, 128n, 300n, 2n ** 35n, BigInt(Number.MAX_SAFE_INTEGER), 2n ** 62n, -1n]) {
      const message = create(PublishResponseSchema, { id });
      assert.deepEqual(
        encodePublishResponse(message),
        Buffer.from(toBinary(PublishResponseSchema, message)),
        `id ${id}`,
      );
    }
  });
});
