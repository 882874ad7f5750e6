import type { ServerUnaryCall, ServerWritableStream, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
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
      void streamSubscription(broker, call);
    },
  };
}

async function streamSubscription(
  broker: Broker,
  call: ServerWritableStream<SubscribeRequest, MessageResponse>,
): Promise<void> {
  let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
  try {
    subscription = await broker.subscribe(call.request.subject, { resumeAfterId: call.request.resumeAfterId });
  } catch (err) {
    call.emit("error", toGrpcStatus(err));
    return;
  }
  const stop = () => void subscription.return();
  call.once("cancelled", stop);
  call.once("close", stop);
  if (call.cancelled) {
    stop();
    return;
  }
  // The subscription is registered: headers now tell the client it is live.
  call.sendMetadata(new Metadata());
  try {
    for await (const message of subscription) {
      // Honour backpressure: a slow client makes the subscription stop
      // buffering and catch up from storage, instead of growing memory here.
      if (!call.write(toMessageResponse(message))) await drained(call);
    }
    if (!call.cancelled) call.end();
  } catch (err) {
    if (!call.cancelled) call.emit("error", toGrpcStatus(err));
  } finally {
    call.off("cancelled", stop);
    call.off("close", stop);
  }
}

/** Resolves when the stream can take more, or will never need to. */
function drained(call: ServerWritableStream<SubscribeRequest, MessageResponse>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
    call.on("close", done);
  });
}
