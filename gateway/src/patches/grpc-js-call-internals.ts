import { constants as http2Constants } from "node:http2";
import { status } from "@grpc/grpc-js";
import * as serverInterceptors from "@grpc/grpc-js/build/src/server-interceptors.js";

/**
 * grpc-js INTERNALS (@grpc/grpc-js 1.14.7): where this gateway reaches into grpc-js's
 * private objects for request checks (beside the perf patches in this folder). Both
 * are guarded: where grpc-js differs, nothing happens, and
 * test/malformed-requests.test.ts and test/stalled-clients.test.ts fail.
 */

type Decompress = (this: unknown, frame: Buffer, encoding: string) => Promise<Buffer> | Buffer;

let compressedFlagPatched = false;

/**
 * A request frame marked compressed on a call without `grpc-encoding` (or
 * with `identity`) is the client's error, INVALID_ARGUMENT. grpc-js 1.14
 * instead reads such a frame as if it were not compressed. Its check lives in
 * the private `decompressMessage(frame, encoding)` of
 * BaseServerInterceptingCall, which rejects with a status object to refuse a
 * frame; this wraps it, once per process.
 */
export function checkCompressedFlag(): boolean {
  if (compressedFlagPatched) return true;
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
  compressedFlagPatched = true;
  return true;
}

export function compressedFlagChecked(): boolean {
  return compressedFlagPatched;
}

interface ClosableStream {
  close(code: number): void;
  once(event: "finish" | "close", listener: () => void): unknown;
  readonly writableFinished: boolean;
  readonly closed: boolean;
}

/**
 * Resets a call's HTTP/2 stream once its status is out. grpc-js ends only its
 * own half of a stream when it sends a status, so a client that stopped
 * sending mid-request (its frame, and grpc-js's buffer of it, stay) would
 * keep the stream until it closed its connection. RST_STREAM(NO_ERROR)
 * after a complete response is HTTP/2's "stop sending". The stream is found
 * beneath the interceptor chain (`nextCall` links, then `stream`); returns
 * false if it is not there. For a status sent before any response headers
 * (trailers-only, one HEADERS frame): the stream's 'finish' means it is out.
 */
export function resetStreamAfterStatus(call: unknown): boolean {
  let current: unknown = call;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const stream = (current as { stream?: unknown }).stream;
    if (isClosableStream(stream)) {
      const reset = () => setImmediate(() => stream.close(http2Constants.NGHTTP2_NO_ERROR));
      if (stream.closed) return true;
      if (stream.writableFinished) reset();
      else stream.once("finish", reset);
      return true;
    }
    current = (current as { nextCall?: unknown }).nextCall;
  }
  return false;
}

function isClosableStream(value: unknown): value is ClosableStream {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { close?: unknown }).close === "function" &&
    "rstCode" in value
  );
}
