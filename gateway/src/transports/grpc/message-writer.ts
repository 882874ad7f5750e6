import type { ServerWritableStream } from "@grpc/grpc-js";
import { writerBeneath } from "../../patches/grpc-js-server-call.js";

/** Writes a server stream's messages, telling its caller when to wait. */
export interface MessageWriter<T> {
  /** Sends one message; false means: write no more until the drain callback runs. */
  write(message: T): boolean;
  /** Called once the writes that made write() return false have gone out. */
  onDrain(callback: () => void): void;
}

/**
 * The writer for a server stream: beneath its Writable when the
 * grpc-js-server-call patch is on (patches/grpc-js-server-call.ts), else the
 * stream's own write() and 'drain'.
 */
export function messageWriter<T>(
  stream: ServerWritableStream<unknown, T>,
  bytesOf: (message: T) => number,
): MessageWriter<T> {
  return writerBeneath(stream, bytesOf) ?? streamWriter(stream);
}

/** The plain way: the stream's own write() and 'drain'. */
function streamWriter<T>(stream: ServerWritableStream<unknown, T>): MessageWriter<T> {
  return {
    write: (message) => stream.write(message),
    onDrain(callback) {
      stream.on("drain", callback);
    },
  };
}
