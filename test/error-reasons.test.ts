import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ErrorInfoSchema } from "../gateway/gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../gateway/gen/google/rpc/status_pb.js";
import { ALL_ROUTES, type BrokerClient, brokerClient, type Ports } from "./support/clients.js";
import { startGateway } from "./support/gateway.js";
import { bytes, sleep } from "./support/streams.js";

/** The ErrorInfo a failed call carried: reason, domain and metadata. */
async function errorInfo(call: Promise<unknown>, code: Code) {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(Code[err.code], Code[code], err.rawMessage);
    const [info, ...more] = err.findDetails(ErrorInfoSchema);
    assert.ok(info, `no ErrorInfo on ${err.rawMessage}`);
    assert.equal(more.length, 0);
    assert.equal(info.domain, "broker.gateway");
    return { reason: info.reason, metadata: info.metadata };
  }
  assert.fail("the call succeeded");
}

async function firstOfStream(client: BrokerClient, request: { subject: string; resumeAfterId?: bigint }) {
  for await (const message of client.subscribe(request)) return message;
  return undefined;
}

describe("every error carries a machine-readable reason (google.rpc.ErrorInfo), on every route", () => {
  let ports: Ports;
  let stop: () => Promise<void>;
  const subject = "reasons";
  let fireAndForget: bigint;
  let shortLived: bigint;

  before(async () => {
    const started = await startGateway("memory");
    ports = started.gateway;
    stop = started.stop;
    const client = brokerClient(ports, "grpc");
    fireAndForget = (await client.publish({ subject, body: bytes("gone"), expirationSeconds: 0 })).id;
    shortLived = (await client.publish({ subject, body: bytes("brief"), expirationSeconds: 1 })).id;
    await sleep(1_100);
  });
  after(() => stop?.());

  for (const route of ALL_ROUTES) {
    it(`over ${route}: Fetch names unknown, fire-and-forget and expired ids; bad input names the field`, async () => {
      const client = brokerClient(ports, route);
      assert.deepEqual(await errorInfo(client.fetch({ subject, id: 99n }), Code.InvalidArgument), {
        reason: "UNKNOWN_ID",
        metadata: { subject, id: "99" },
      });
      assert.deepEqual(await errorInfo(client.fetch({ subject, id: fireAndForget }), Code.InvalidArgument), {
        reason: "FIRE_AND_FORGET",
        metadata: { subject, id: String(fireAndForget) },
      });
      const expired = await errorInfo(client.fetch({ subject, id: shortLived }), Code.InvalidArgument);
      assert.equal(expired.reason, "EXPIRED");
      assert.equal(expired.metadata.id, String(shortLived));
      assert.match(expired.metadata.expiredAt ?? "", /^\d{4}-\d\d-\d\dT/);
      const empty = client.publish({ subject: "", body: bytes("x"), expirationSeconds: 60 });
      assert.equal((await errorInfo(empty, Code.InvalidArgument)).reason, "INVALID_SUBJECT");
      const negative = client.publish({ subject, body: bytes("x"), expirationSeconds: -1 });
      assert.equal((await errorInfo(negative, Code.InvalidArgument)).reason, "INVALID_EXPIRATION");
      assert.equal((await errorInfo(client.fetch({ subject, id: 0n }), Code.InvalidArgument)).reason, "INVALID_ID");
      const batch = client.publishBatch({
        messages: [
          { subject, body: bytes("ok"), expirationSeconds: 60 },
          { subject: "", body: bytes("no subject"), expirationSeconds: 60 },
        ],
      });
      assert.deepEqual(await errorInfo(batch, Code.InvalidArgument), {
        reason: "INVALID_SUBJECT",
        metadata: { index: "1" },
      });
    });

    it(`over ${route}: a Subscribe resuming past the last id ends with RESUME_BEYOND_LAST_ID`, async () => {
      const client = brokerClient(ports, route);
      const info = await errorInfo(firstOfStream(client, { subject, resumeAfterId: 1_000n }), Code.OutOfRange);
      assert.deepEqual(info, { reason: "RESUME_BEYOND_LAST_ID", metadata: { subject, lastId: String(shortLived) } });
    });
  }
});

describe("native gRPC: the reason travels in the grpc-status-details-bin trailer as a google.rpc.Status", () => {
  let stop: () => Promise<void>;
  let client: Client & {
    Fetch(request: { subject: string; id: number }, cb: (err: ServiceError | null) => void): void;
  };

  before(async () => {
    const started = await startGateway("memory");
    stop = started.stop;
    const proto = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.ci/contract/broker/broker.proto");
    const definition = loadSync(proto, { keepCase: true, defaults: true });
    const broker = (loadPackageDefinition(definition).broker as GrpcObject).Broker as ServiceClientConstructor;
    client = new broker(
      `127.0.0.1:${started.gateway.grpcPort}`,
      credentials.createInsecure(),
    ) as unknown as typeof client;
  });
  after(async () => {
    client?.close();
    await stop?.();
  });

  it("decodes with the vendored google/rpc protos into the same code, message and ErrorInfo", async () => {
    const err = await new Promise<ServiceError>((resolve, reject) =>
      client.Fetch({ subject: "plain-grpc", id: 7 }, (e) => (e ? resolve(e) : reject(new Error("no error")))),
    );
    assert.equal(err.code, Code.InvalidArgument);
    const [trailer] = err.metadata.get("grpc-status-details-bin");
    assert.ok(Buffer.isBuffer(trailer), "a binary trailer");
    const status = fromBinary(StatusSchema, trailer);
    assert.equal(status.code, Code.InvalidArgument);
    assert.equal(status.message, err.details);
    assert.equal(status.details.length, 1);
    const info = anyUnpack(status.details[0] as NonNullable<(typeof status.details)[0]>, ErrorInfoSchema);
    assert.ok(info);
    assert.equal(info.reason, "UNKNOWN_ID");
    assert.equal(info.domain, "broker.gateway");
    assert.deepEqual(info.metadata, { subject: "plain-grpc", id: "7" });
  });
});
