import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import type {
  FetchRequest,
  MessageResponse,
  PublishBatchRequest,
  PublishBatchResponse,
  PublishRequest,
  PublishResponse,
  SubscribeRequest,
} from "../../../gen/broker/broker_pb.js";
import type { Broker } from "../../core/broker.js";
import { toMessageResponse, toPublishBatchResponse, toPublishResponse } from "../messages.js";
import { toGrpcStatus } from "../status.js";
import { streamSubscription } from "./subscription-stream.js";

/** The Broker service for @grpc/grpc-js: translation only. */
export function brokerGrpcService(broker: Broker): UntypedServiceImplementation {
  return {
    publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
      const { subject, body, expirationSeconds, idempotencyKey } = call.request;
      broker.publish({ subject, body, expirationSeconds, idempotencyKey }).then(
        (message) => callback(null, toPublishResponse(message)),
        (err: unknown) => callback(toGrpcStatus(err)),
      );
    },

    fetch(call: ServerUnaryCall<FetchRequest, MessageResponse>, callback: sendUnaryData<MessageResponse>) {
      broker.fetch(call.request.subject, call.request.id).then(
        (message) => callback(null, toMessageResponse(message)),
        (err: unknown) => callback(toGrpcStatus(err)),
      );
    },

    publishBatch(
      call: ServerUnaryCall<PublishBatchRequest, PublishBatchResponse>,
      callback: sendUnaryData<PublishBatchResponse>,
    ) {
      broker.publishBatch(call.request.messages).then(
        (messages) => callback(null, toPublishBatchResponse(messages)),
        (err: unknown) => callback(toGrpcStatus(err)),
      );
    },

    subscribe(call: ServerWritableStream<SubscribeRequest, MessageResponse>) {
      void subscribe(broker, call);
    },
  };
}

async function subscribe(broker: Broker, call: ServerWritableStream<SubscribeRequest, MessageResponse>): Promise<void> {
  let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
  try {
    subscription = await broker.subscribe(call.request.subject, { resumeAfterId: call.request.resumeAfterId });
  } catch (err) {
    call.emit("error", toGrpcStatus(err));
    return;
  }
  streamSubscription(subscription, call);
}
