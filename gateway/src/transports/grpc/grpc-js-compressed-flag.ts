import { status } from "@grpc/grpc-js";
import * as serverInterceptors from "@grpc/grpc-js/build/src/server-interceptors.js";

/**
 * grpc-js INTERNALS (the one place this gateway patches grpc-js): a request
 * frame marked compressed on a call without `grpc-encoding` (or with
 * `identity`) is the client's error, INVALID_ARGUMENT. grpc-js 1.14 instead
 * reads such a frame as if it were not compressed: the compressed bytes reach
 * the deserializer as a message. Its check lives in the private
 * `decompressMessage(frame, encoding)` of BaseServerInterceptingCall, which
 * rejects with a status object to refuse a frame; this wraps it. Where the
 * method is missing (another grpc-js), nothing is patched and
 * `compressedFlagChecked()` says so (test/malformed-requests.test.ts fails).
 */
type Decompress = (this: unknown, frame: Buffer, encoding: string) => Promise<Buffer> | Buffer;

let patched = false;

export function checkCompressedFlag(): boolean {
  if (patched) return true;
  const base = (
    serverInterceptors as unknown as { BaseServerInterceptingCall?: { prototype: Record<string, unknown> } }
  ).BaseServerInterceptingCall;
  const original = base?.prototype.decompressMessage as Decompress | undefined;
  if (!base || typeof original !== "function") return false;
  base.prototype.decompressMessage = function (this: unknown, frame: Buffer, encoding: string) {
    if (encoding === "identity" && frame[0] === 1) {
      return Promise.reject({
        code: status.INVALID_ARGUMENT,
        details: "malformed request: a frame is marked compressed but the call has no grpc-encoding",
      });
    }
    return original.call(this, frame, encoding);
  };
  patched = true;
  return true;
}

export function compressedFlagChecked(): boolean {
  return patched;
}
