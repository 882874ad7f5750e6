import { create } from "@bufbuild/protobuf";
import {
  type MessageResponse,
  MessageResponseSchema,
  type PublishBatchResponse,
  PublishBatchResponseSchema,
  type PublishResponse,
  PublishResponseSchema,
} from "../../gen/broker/broker_pb.js";
import { type Delivery, Gap, type StoredMessage } from "../core/message.js";

/** Broker values to wire messages, shared by both transports. */
export function toMessageResponse(message: Delivery): MessageResponse {
  if (message instanceof Gap) {
    return create(MessageResponseSchema, {
      subject: message.subject,
      gap: { firstId: BigInt(message.firstId), lastId: BigInt(message.lastId), reason: message.reason },
    });
  }
  return create(MessageResponseSchema, {
    body: message.body,
    id: BigInt(message.id),
    subject: message.subject,
    publishedAtMs: BigInt(message.publishedAt),
  });
}

export function toPublishResponse(message: { readonly id: number }): PublishResponse {
  return create(PublishResponseSchema, { id: BigInt(message.id) });
}

export function toPublishBatchResponse(messages: readonly StoredMessage[]): PublishBatchResponse {
  return create(PublishBatchResponseSchema, { ids: messages.map((message) => BigInt(message.id)) });
}
