import { create } from "@bufbuild/protobuf";
import { type Client, credentials, Client as GrpcClient, type Interceptor, Metadata } from "@grpc/grpc-js";
import {
  type FetchRequest,
  FetchRequestSchema,
  type MessageResponse,
  PublishBatchRequestSchema,
  type PublishBatchResponse,
  type PublishRequest,
  PublishRequestSchema,
  type PublishResponse,
  type SubscribeRequest,
  SubscribeRequestSchema,
} from "../../gateway/gen/broker/broker_pb.js";
import { brokerServiceDefinition as def } from "../../gateway/src/transports/grpc/service-definition.js";

/** A message's fields as plain data; the client creates the protobuf-es message. */
type Init<T> = Omit<T, "$typeName" | "$unknown">;

/**
 * A typed @grpc/grpc-js client for the Broker service that uses the gateway's
 * own service definition, so the load client and the gateway share the codec
 * path and a baseline server answering the same definition is comparable.
 */
export class BrokerChannels {
  private readonly clients: Client[];
  private next = 0;

  /** `channels` separate HTTP/2 connections; calls are spread round-robin. `interceptors` see every call (e.g. add a token). */
  constructor(address: string, channels: number, interceptors: Interceptor[] = []) {
    this.clients = Array.from(
      { length: channels },
      // A distinct option per channel stops grpc-js from sharing one subchannel.
      (_, i) =>
        new GrpcClient(address, credentials.createInsecure(), {
          "bench.channel": i,
          "grpc.max_receive_message_length": 64 * 1024 * 1024,
          "grpc.max_send_message_length": 64 * 1024 * 1024,
          interceptors,
        }),
    );
  }

  private pick(): Client {
    const client = this.clients[this.next % this.clients.length] as Client;
    this.next += 1;
    return client;
  }

  publish(request: Init<PublishRequest>): Promise<PublishResponse> {
    const d = def.publish;
    return new Promise((resolve, reject) => {
      this.pick().makeUnaryRequest(
        d.path,
        (r: Init<PublishRequest>) => d.requestSerialize(create(PublishRequestSchema, r)),
        d.responseDeserialize,
        request,
        (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res)),
      );
    });
  }

  publishBatch(request: { messages: Init<PublishRequest>[] }): Promise<PublishBatchResponse> {
    const d = def.publishBatch;
    return new Promise((resolve, reject) => {
      this.pick().makeUnaryRequest(
        d.path,
        (r: { messages: Init<PublishRequest>[] }) => d.requestSerialize(create(PublishBatchRequestSchema, r)),
        d.responseDeserialize,
        request,
        (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res)),
      );
    });
  }

  fetch(request: Init<FetchRequest>): Promise<MessageResponse> {
    const d = def.fetch;
    return new Promise((resolve, reject) => {
      this.pick().makeUnaryRequest(
        d.path,
        (r: Init<FetchRequest>) => d.requestSerialize(create(FetchRequestSchema, r)),
        d.responseDeserialize,
        request,
        (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res)),
      );
    });
  }

  /**
   * Opens a Subscribe stream; resolves once the response headers arrive (the
   * gateway sends them when the subscription is live).
   */
  subscribe(
    subject: string,
    onMessage: (message: MessageResponse) => void,
    onEnd: (err: Error | undefined) => void,
  ): Promise<{ cancel: () => void }> {
    return this.openStream(subject, def.subscribe.responseDeserialize, onMessage, onEnd);
  }

  /**
   * Subscribe without decoding: the handler gets each MessageResponse's body
   * bytes (field 1) found by a minimal wire-format walk. Lets one client core
   * take the deliveries of a thousand subscribers.
   */
  subscribeBodies(
    subject: string,
    onBody: (body: Buffer) => void,
    onEnd: (err: Error | undefined) => void,
  ): Promise<{ cancel: () => void }> {
    return this.openStream(subject, bodyField, onBody, onEnd);
  }

  private openStream<T>(
    subject: string,
    deserialize: (bytes: Buffer) => T,
    onMessage: (message: T) => void,
    onEnd: (err: Error | undefined) => void,
  ): Promise<{ cancel: () => void }> {
    const d = def.subscribe;
    const call = this.pick().makeServerStreamRequest(
      d.path,
      (r: Init<SubscribeRequest>) => d.requestSerialize(create(SubscribeRequestSchema, r)),
      deserialize,
      { subject },
      new Metadata(),
    );
    let ended = false;
    const end = (err: Error | undefined) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    call.on("data", onMessage);
    call.on("end", () => end(undefined));
    return new Promise((resolve, reject) => {
      call.once("metadata", () => resolve({ cancel: () => call.cancel() }));
      call.on("error", (err: Error & { code?: number }) => {
        // CANCELLED (1) is our own cancel().
        end(err.code === 1 ? undefined : err);
        reject(err);
      });
    });
  }

  close(): void {
    for (const client of this.clients) client.close();
  }
}

/** Resolves when the address accepts calls (a Fetch answered, with any status). */
export async function waitForServer(address: string, timeoutMs = 15_000): Promise<void> {
  const client = new GrpcClient(address, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve())),
    );
  } finally {
    client.close();
  }
}

/** Field 1 (bytes) of a MessageResponse, or an empty buffer. */
export function bodyField(bytes: Buffer): Buffer {
  return bodyAndId(bytes).body;
}

/**
 * Field 1 (body) and field 2 (id) of a MessageResponse by a minimal walk of
 * the wire format; other fields are skipped. Ids here stay below 2^53.
 */
export function bodyAndId(bytes: Buffer): { body: Buffer; id: number } {
  let pos = 0;
  let body: Buffer = EMPTY;
  let id = 0;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = bytes[pos++] ?? 0;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80 || pos >= bytes.length) return result;
      scale *= 128;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const field = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 0) {
      const value = varint();
      if (field === 2) id = value;
    } else if (wireType === 2) {
      const length = varint();
      if (field === 1) body = bytes.subarray(pos, pos + length);
      pos += length;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else break;
  }
  return { body, id };
}

const EMPTY: Buffer = Buffer.alloc(0);
