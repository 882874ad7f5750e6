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
import type { Log } from "../../core/log.js";
import { toMessageResponse, toPublishBatchResponse, toPublishResponse } from "../messages.js";
import { toGrpcStatus } from "../status.js";
import { streamSubscription } from "./subscription-stream.js";

/** The Broker service for @grpc/grpc-js: translation only. */
export function brokerGrpcService(broker: Broker, log: Log): UntypedServiceImplementation {
  return {
    publish(call: ServerUnaryCall<PublishRequest, PublishResponse>, callback: sendUnaryData<PublishResponse>) {
      const { subject, body, expirationSeconds, idempotencyKey } = call.request;
      broker.publish({ subject, body, expirationSeconds, idempotencyKey }).then(
        (message) => callback(null, toPublishResponse(message)),
        (err: unknown) => callback(toGrpcStatus(err, log)),
      );
    },

    fetch(call: ServerUnaryCall<FetchRequest, MessageResponse>, callback: sendUnaryData<MessageResponse>) {
      broker.fetch(call.request.subject, call.request.id).then(
        (message) => callback(null, toMessageResponse(message)),
        (err: unknown) => callback(toGrpcStatus(err, log)),
      );
    },

    publishBatch(
      call: ServerUnaryCall<PublishBatchRequest, PublishBatchResponse>,
      callback: sendUnaryData<PublishBatchResponse>,
    ) {
      broker.publishBatch(call.request.messages).then(
        (messages) => callback(null, toPublishBatchResponse(messages)),
        (err: unknown) => callback(toGrpcStatus(err, log)),
      );
    },

    subscribe(call: ServerWritableStream<SubscribeRequest, MessageResponse>) {
      void subscribe(broker, call, log);
    },
  };
}

async function subscribe(
  broker: Broker,
  call: ServerWritableStream<SubscribeRequest, MessageResponse>,
  log: Log,
): Promise<void> {
  let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
  try {
    subscription = await broker.subscribe(call.request.subject, { resumeAfterId: call.request.resumeAfterId });
  } catch (err) {
    call.emit("error", toGrpcStatus(err, log));
    return;
  }
  streamSubscription(subscription, call, log);
}
