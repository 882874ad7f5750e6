import type {
  Metadata,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type {
  FetchRequest,
  MessageResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  PublishRequest,
  PublishResponse,
  SubscribeRequest,
} from "../../../gen/broker/broker_pb.js";
import type { Authenticator } from "../../auth/authenticator.js";
import type { Broker } from "../../core/broker.js";
import type { Log } from "../../core/log.js";
import { toMessageResponse, toPublishBatchResponse, toPublishResponse } from "../messages.js";
import { toGrpcStatus } from "../status.js";
import { streamSubscription } from "./subscription-stream.js";

/** The Broker service for @grpc/grpc-js: translation only (the `authorization` metadata into a Caller). */
export function brokerGrpcService(broker: Broker, auth: Authenticator, log: Log): UntypedServiceImplementation {
  return {
    publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
      const { subject, body, expirationSeconds, idempotencyKey } = call.request;
      auth
        .as(authorization(call.metadata), (caller) =>
          broker.publish({ subject, body, expirationSeconds, idempotencyKey }, caller),
        )
        .then(
          (message) => callback(null, toPublishResponse(message)),
          (err: unknown) => callback(toGrpcStatus(err, log)),
        );
    },

    fetch(call: ServerUnaryCall<FetchRequest, MessageResponse>, callback: sendUnaryData<MessageResponse>) {
      auth
        .as(authorization(call.metadata), (caller) => broker.fetch(call.request.subject, call.request.id, caller))
        .then(
          (message) => callback(null, toMessageResponse(message)),
          (err: unknown) => callback(toGrpcStatus(err, log)),
        );
    },

    publishBatch(
      call: ServerUnaryCall<PublishBatchRequest, PublishBatchResponse>,
      callback: sendUnaryData<PublishBatchResponse>,
    ) {
      auth
        .as(authorization(call.metadata), (caller) => broker.publishBatch(call.request.messages, caller))
        .then(
          (messages) => callback(null, toPublishBatchResponse(messages)),
          (err: unknown) => callback(toGrpcStatus(err, log)),
        );
    },

    subscribe(call: ServerWritableStream<SubscribeRequest, MessageResponse>) {
      void subscribe(broker, auth, call, log);
    },
  };
}

async function subscribe(
  broker: Broker,
  auth: Authenticator,
  call: ServerWritableStream<SubscribeRequest, MessageResponse>,
  log: Log,
): Promise<void> {
  let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
  try {
    const resume = { resumeAfterId: call.request.resumeAfterId };
    subscription = await auth.as(authorization(call.metadata), (caller) =>
      broker.subscribe(call.request.subject, resume, caller),
    );
  } catch (err) {
    call.emit("error", toGrpcStatus(err, log));
    return;
  }
  streamSubscription(subscription, call, log);
}

function authorization(metadata: Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  return typeof value === "string" ? value : undefined;
}
