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
import { RecentCache } from "./recent-cache.js";

/**
 * The wire form of recent stored messages, made once: the fan-out hands the
 * same StoredMessage object to every subscription of a subject, so its
 * subscribers share one MessageResponse (and, on gRPC, one encoding of it).
 * Neither is ever mutated after creation.
 */
const responses = new RecentCache<StoredMessage, MessageResponse>(
  4096,
  4 * 1024 * 1024,
  (response) => response.body.byteLength,
);

/** Broker values to wire messages, shared by both transports. */
export function toMessageResponse(message: Delivery): MessageResponse {
  if (message instanceof Gap) {
    return create(MessageResponseSchema, {
      subject: message.subject,
      gap: { firstId: BigInt(message.firstId), lastId: BigInt(message.lastId), reason: message.reason },
    });
  }
  let response = responses.get(message);
  if (!response) {
    response = create(MessageResponseSchema, {
      body: message.body,
      id: BigInt(message.id),
      subject: message.subject,
      publishedAtMs: BigInt(message.publishedAt),
    });
    responses.set(message, response);
  }
  return response;
}

export function toPublishResponse(message: { readonly id: number }): PublishResponse {
  return create(PublishResponseSchema, { id: BigInt(message.id) });
}

export function toPublishBatchResponse(messages: readonly StoredMessage[]): PublishBatchResponse {
  return create(PublishBatchResponseSchema, { ids: messages.map((message) => BigInt(message.id)) });
}
