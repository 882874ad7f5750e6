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

/**
 * The wire form of a delivered message, made once per message object: the
 * fan-out hands the same StoredMessage object to every subscription of a
 * subject, so its subscribers share one MessageResponse (and, on gRPC, one
 * encoding of it), slow ones that write it later included, since they hold
 * the object in their buffers. Keyed weakly, the wire form dies with the
 * object, which engines make per delivery or per read (the memory engine
 * copies its log's entries out, so nothing here lives as long as its log);
 * it mostly dies young. Neither is ever mutated after creation.
 */
const responses = new WeakMap<StoredMessage, MessageResponse>();

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
