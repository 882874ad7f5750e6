import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { Broker } from "../../../gen/broker/broker_pb.js";
import { tolerantDecoder } from "./malformed-request.js";
import { decodePublishRequest, encodeMessageResponse, encodePublishResponse } from "./message-codec.js";

/**
 * A @grpc/grpc-js service definition built from the protobuf-es descriptor,
 * so both transports serve exactly the generated contract.
 */
function methodDefinition<I extends DescMessage, O extends DescMessage>(
  name: string,
  input: I,
  output: O,
  responseStream: boolean,
  codec: {
    requestDeserialize?: (bytes: Buffer) => MessageShape<I>;
    responseSerialize?: (message: MessageShape<O>) => Buffer;
  } = {},
): MethodDefinition<MessageShape<I>, MessageShape<O>> {
  return {
    path: `/${Broker.typeName}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (message) => Buffer.from(toBinary(input, message)),
    // Undecodable requests reach the limits interceptor as a MalformedRequest (INVALID_ARGUMENT).
    requestDeserialize: tolerantDecoder(
      input.typeName,
      codec.requestDeserialize ?? ((bytes) => fromBinary(input, bytes)),
    ),
    responseSerialize: codec.responseSerialize ?? ((message) => Buffer.from(toBinary(output, message))),
    responseDeserialize: (bytes) => fromBinary(output, bytes),
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

const { publish, subscribe, fetch, publishBatch } = Broker.method;

export const brokerServiceDefinition = {
  // The hot messages have hand-written codecs (see message-codec.ts): PublishRequest in,
  // PublishResponse and MessageResponse out.
  publish: methodDefinition(publish.name, publish.input, publish.output, false, {
    requestDeserialize: decodePublishRequest,
    responseSerialize: encodePublishResponse,
  }),
  subscribe: methodDefinition(subscribe.name, subscribe.input, subscribe.output, true, {
    responseSerialize: encodeMessageResponse,
  }),
  fetch: methodDefinition(fetch.name, fetch.input, fetch.output, false, { responseSerialize: encodeMessageResponse }),
  publishBatch: methodDefinition(publishBatch.name, publishBatch.input, publishBatch.output, false),
} satisfies ServiceDefinition;
