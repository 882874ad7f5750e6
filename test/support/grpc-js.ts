import { create } from "@bufbuild/protobuf";
import { Client, type ClientReadableStream, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  type FetchRequest,
  FetchRequestSchema,
  type MessageResponse,
  type PublishRequest,
  PublishRequestSchema,
  type PublishResponse,
  SubscribeRequestSchema,
} from "../../gateway/gen/broker/broker_pb.js";
import { brokerServiceDefinition as service } from "../../gateway/src/transports/grpc/service-definition.js";

/**
 * A plain @grpc/grpc-js client of the gateway's gRPC port (the generated
 * contract), for tests that need grpc-js's own stream controls: a paused
 * Subscribe stream that never reads, or one channel per connection.
 */
export class GrpcJsBroker {
  readonly client: Client;

  constructor(port: number, options: Record<string, number> = {}) {
    this.client = new Client(`127.0.0.1:${port}`, credentials.createInsecure(), options);
  }

  publish(request: Partial<PublishRequest>): Promise<PublishResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        service.publish.path,
        service.publish.requestSerialize,
        service.publish.responseDeserialize,
        create(PublishRequestSchema, request),
        (err: ServiceError | null, response?: PublishResponse) => (err || !response ? reject(err) : resolve(response)),
      );
    });
  }

  fetch(request: Partial<FetchRequest>): Promise<MessageResponse> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        service.fetch.path,
        service.fetch.requestSerialize,
        service.fetch.responseDeserialize,
        create(FetchRequestSchema, request),
        (err: ServiceError | null, response?: MessageResponse) => (err || !response ? reject(err) : resolve(response)),
      );
    });
  }

  /** Opens a Subscribe stream; `live` resolves when its response headers arrive. */
  subscribe(subject: string): { call: ClientReadableStream<MessageResponse>; live: Promise<void> } {
    const call = this.client.makeServerStreamRequest(
      service.subscribe.path,
      service.subscribe.requestSerialize,
      service.subscribe.responseDeserialize,
      create(SubscribeRequestSchema, { subject }),
      new Metadata(),
    );
    const live = new Promise<void>((resolve, reject) => {
      call.once("metadata", () => resolve());
      call.once("error", reject);
    });
    live.catch(() => {});
    return { call, live };
  }

  close(): void {
    this.client.close();
  }
}
