import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type Client,
  type ClientReadableStream,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ENGINES, startGateway } from "./support/gateway.js";

/**
 * A client exactly as the original broker's users built theirs: @grpc/grpc-js
 * and @grpc/proto-loader loading the original contract, with its int32 ids.
 */
const ORIGINAL_PROTO = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../.ci/contract/broker/broker.proto",
);

interface OriginalPublishResponse {
  id: number;
}
interface OriginalMessageResponse {
  body: Buffer;
}
type Callback<T> = (err: ServiceError | null, value?: T) => void;
interface OriginalBrokerClient extends Client {
  Publish(
    request: { subject: string; body: Buffer; expirationSeconds: number },
    cb: Callback<OriginalPublishResponse>,
  ): void;
  Fetch(request: { subject: string; id: number }, cb: Callback<OriginalMessageResponse>): void;
  Subscribe(request: { subject: string }): ClientReadableStream<OriginalMessageResponse>;
}

function loadOriginalClient(address: string): OriginalBrokerClient {
  const definition = loadSync(ORIGINAL_PROTO, { keepCase: true, defaults: true });
  const broker = (loadPackageDefinition(definition).broker as GrpcObject).Broker as ServiceClientConstructor;
  return new broker(address, credentials.createInsecure()) as unknown as OriginalBrokerClient;
}

function call<T>(invoke: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    invoke((err, value) => (err || value === undefined ? reject(err) : resolve(value))),
  );
}

for (const engine of ENGINES) {
  describe(`a client generated from the original contract, ${engine} engine`, () => {
    let stop: () => Promise<void>;
    let ports: { grpcPort: number; httpPort: number };
    before(async () => {
      const started = await startGateway(engine);
      ports = started.gateway;
      stop = started.stop;
    });
    after(() => stop());

    for (const port of ["gRPC", "HTTP"] as const) {
      it(`publishes, fetches and subscribes on the ${port} port with int32 ids`, async () => {
        const client = loadOriginalClient(`127.0.0.1:${port === "gRPC" ? ports.grpcPort : ports.httpPort}`);
        const subject = `original-${port}`;
        try {
          const stream = client.Subscribe({ subject });
          const received: string[] = [];
          const live = new Promise<void>((resolve, reject) => {
            stream.once("metadata", () => resolve());
            stream.once("error", reject);
          });
          stream.on("data", (message: OriginalMessageResponse) => received.push(message.body.toString()));
          const streamEnded = new Promise<ServiceError | undefined>((resolve) => {
            stream.on("error", (err: ServiceError) => resolve(err));
            stream.on("end", () => resolve(undefined));
          });
          await live;

          const ids: number[] = [];
          for (const word of ["alpha", "beta", "gamma"]) {
            const response = await call<OriginalPublishResponse>((cb) =>
              client.Publish({ subject, body: Buffer.from(word), expirationSeconds: 60 }, cb),
            );
            ids.push(response.id);
          }
          assert.deepEqual(ids, [1, 2, 3]);
          assert.equal(typeof ids[0], "number");

          const fetched = await call<OriginalMessageResponse>((cb) => client.Fetch({ subject, id: 2 }, cb));
          assert.equal(fetched.body.toString(), "beta");
          // The fields added since (id, subject, time) are unknown to it and ignored.
          assert.deepEqual(Object.keys(fetched), ["body"]);

          await assert.rejects(
            call((cb) => client.Fetch({ subject, id: 99 }, cb)),
            (err: ServiceError) => err.code === 3 && /unknown id/.test(err.details),
          );

          const deadline = Date.now() + 5_000;
          while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
          assert.deepEqual(received, ["alpha", "beta", "gamma"]);
          stream.cancel();
          const ended = await streamEnded;
          assert.equal(ended?.code, 1, "cancelled by the client");
        } finally {
          client.close();
        }
      });
    }
  });
}
