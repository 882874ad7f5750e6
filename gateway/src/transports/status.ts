import { Code, ConnectError } from "@connectrpc/connect";
import type { status as GrpcStatus, StatusObject } from "@grpc/grpc-js";
import { BrokerError, type BrokerErrorCode } from "../core/errors.js";

/**
 * The one place where broker errors become wire statuses. Connect's `Code`
 * numbers are gRPC's status numbers, so a single table serves both transports.
 */
const CODES: Record<BrokerErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  out_of_range: Code.OutOfRange,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  deadline_exceeded: Code.DeadlineExceeded,
  internal: Code.Internal,
};

function classify(err: unknown): { code: Code; message: string } {
  if (err instanceof BrokerError) return { code: CODES[err.code], message: err.message };
  // Anything else is a bug; say so without leaking internals.
  return { code: Code.Internal, message: "internal error" };
}

export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  const { code, message } = classify(err);
  return new ConnectError(message, code, undefined, undefined, err);
}

export function toGrpcStatus(err: unknown): Partial<StatusObject> {
  const { code, message } = classify(err);
  return { code: code as number as GrpcStatus, details: message };
}
