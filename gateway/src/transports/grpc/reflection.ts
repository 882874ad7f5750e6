import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Server } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { Broker, file_broker_broker } from "../../../gen/broker/broker_pb.js";

/**
 * gRPC server reflection, so `buf curl` and grpcurl work without the .proto.
 * @grpc/reflection reads only `fileDescriptorProtos` from a proto-loader
 * package definition; protobuf-es already holds that descriptor, so it is
 * handed over directly instead of parsing the .proto again at run time.
 */
export function addReflection(server: Server): void {
  const descriptor = Buffer.from(toBinary(FileDescriptorProtoSchema, file_broker_broker.proto));
  const packageDefinition = { [Broker.typeName]: { fileDescriptorProtos: [descriptor] } };
  new ReflectionService(packageDefinition as unknown as ConstructorParameters<typeof ReflectionService>[0]).addToServer(
    server,
  );
}
