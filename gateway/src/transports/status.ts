import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { type status as GrpcStatus, Metadata, type StatusObject } from "@grpc/grpc-js";
import { type ErrorInfo, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../gen/google/rpc/status_pb.js";
import { BrokerError, type BrokerErrorCode, INTERNAL_MESSAGE } from "../core/errors.js";
import type { Log } from "../core/log.js";

/** ErrorInfo.domain of every error the gateway sends. */
export const ERROR_DOMAIN = "broker.gateway";

/** The trailer native gRPC carries rich error details in (a binary google.rpc.Status). */
export const STATUS_DETAILS_TRAILER = "grpc-status-details-bin";

/**
 * The one place where broker errors become wire statuses. Connect's `Code`
 * numbers are gRPC's status numbers, so a single table serves both transports.
 * Each status carries a google.rpc.ErrorInfo (reason, domain, metadata) so
 * clients branch on the reason, never on the message: Connect and gRPC-Web
 * as ConnectError details, native gRPC in the grpc-status-details-bin trailer.
 */
const CODES: Record<BrokerErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  already_exists: Code.AlreadyExists,
  not_found: Code.NotFound,
  out_of_range: Code.OutOfRange,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  deadline_exceeded: Code.DeadlineExceeded,
  internal: Code.Internal,
};

interface WireError {
  readonly code: Code;
  readonly message: string;
  readonly info: ErrorInfo;
}

function classify(err: unknown, log: Log | undefined): WireError {
  const broker =
    err instanceof BrokerError ? err : new BrokerError("internal", INTERNAL_MESSAGE, { reason: "INTERNAL" });
  // Anything else is a bug in the transport or below: logged, its text never sent.
  if (broker !== err) log?.error({ err }, "unexpected error (a bug): answered INTERNAL");
  const info = create(ErrorInfoSchema, { reason: broker.reason, domain: ERROR_DOMAIN, metadata: broker.metadata });
  return { code: CODES[broker.code], message: broker.message, info };
}

export function toConnectError(err: unknown, log?: Log): ConnectError {
  if (err instanceof ConnectError) return err;
  const { code, message, info } = classify(err, log);
  return new ConnectError(message, code, undefined, [{ desc: ErrorInfoSchema, value: info }], err);
}

export function toGrpcStatus(err: unknown, log?: Log): Partial<StatusObject> {
  const { code, message, info } = classify(err, log);
  const metadata = new Metadata();
  const status = create(StatusSchema, { code, message, details: [anyPack(ErrorInfoSchema, info)] });
  metadata.set(STATUS_DETAILS_TRAILER, Buffer.from(toBinary(StatusSchema, status)));
  return { code: code as number as GrpcStatus, details: message, metadata };
}
