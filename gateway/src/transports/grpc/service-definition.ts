import { type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { Broker } from "../../../gen/broker/broker_pb.js";
import { encodeMessageResponse } from "./message-codec.js";

/**
 * A @grpc/grpc-js service definition built from the protobuf-es descriptor,
 * so both transports serve exactly the generated contract.
 */
function methodDefinition<I extends DescMessage, O extends DescMessage>(
  name: string,
  input: I,
  output: O,
  responseStream: boolean,
  responseSerialize: (message: MessageShape<O>) => Buffer = (message) => Buffer.from(toBinary(output, message)),
): MethodDefinition<MessageShape<I>, MessageShape<O>> {
  return {
    path: `/${Broker.typeName}/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (message) => Buffer.from(toBinary(input, message)),
    requestDeserialize: (bytes) => fromBinary(input, bytes),
    responseSerialize,
    responseDeserialize: (bytes) => fromBinary(output, bytes),
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
  };
}

const { publish, subscribe, fetch, publishBatch } = Broker.method;

export const brokerServiceDefinition = {
  publish: methodDefinition(publish.name, publish.input, publish.output, false),
  // MessageResponse, the hot reply, has a hand-written encoder (see message-codec.ts).
  subscribe: methodDefinition(subscribe.name, subscribe.input, subscribe.output, true, encodeMessageResponse),
  fetch: methodDefinition(fetch.name, fetch.input, fetch.output, false, encodeMessageResponse),
  publishBatch: methodDefinition(publishBatch.name, publishBatch.input, publishBatch.output, false),
} satisfies ServiceDefinition;
