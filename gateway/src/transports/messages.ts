import { create } from "@bufbuild/protobuf";
import {
  type MessageResponse,
  MessageResponseSchema,
  type PublishBatchResponse,
  PublishBatchResponseSchema,
  type PublishResponse,
  PublishResponseSchema,
} from "../../gen/broker/broker_pb.js";
import type { StoredMessage } from "../core/message.js";

/** Broker values to wire messages, shared by both transports. */
export function toMessageResponse(message: StoredMessage): MessageResponse {
  return create(MessageResponseSchema, {
    body: message.body,
    id: BigInt(message.id),
    subject: message.subject,
    publishedAtMs: BigInt(message.publishedAt),
  });
}

export function toPublishResponse(message: StoredMessage): PublishResponse {
  return create(PublishResponseSchema, { id: BigInt(message.id) });
}

export function toPublishBatchResponse(messages: readonly StoredMessage[]): PublishBatchResponse {
  return create(PublishBatchResponseSchema, { ids: messages.map((message) => BigInt(message.id)) });
}
