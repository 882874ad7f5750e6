import type { ServerWritableStream } from "@grpc/grpc-js";

/** Writes a server stream's messages, telling its caller when to wait. */
export interface MessageWriter<T> {
  /** Sends one message; false means: write no more until the drain callback runs. */
  write(message: T): boolean;
  /** Called once the writes that made write() return false have gone out. */
  onDrain(callback: () => void): void;
}

/** What grpc-js's call object beneath a server stream offers (the interceptor chain's entry). */
export interface CallBeneath {
  sendMessage(message: unknown, sent: () => void): void;
}

/**
 * Handed to the call and not yet written out, before write() asks the caller
 * to wait: at most 16 messages (an object-mode Writable's bound) and 64 KiB
 * of bodies (HTTP/2's initial window). A slow client's messages belong in its
 * subscription's buffer, whose bound is configured (SUBSCRIBER_BUFFER_BYTES),
 * not here: each message in flight is a framed copy of its own.
 */
const MAX_IN_FLIGHT = 16;
const MAX_IN_FLIGHT_BYTES = 64 * 1024;

/**
 * Writes to grpc-js's call object directly, beneath the Writable that a
 * ServerWritableStream wraps it in. That Writable (object mode, no writev)
 * hands over one message at a time and waits for each to be written out
 * before the next, with its own buffer entry, callbacks and a nextTick per
 * message; beneath it, the HTTP/2 stream is a Writable again. Skipping the
 * outer one saves that work for every delivered message, and lets the HTTP/2
 * stream send queued messages in one write. Interceptors still see each
 * message: sendMessage is where their chain starts. Ending the stream and
 * sending its status stay with the ServerWritableStream (call.end(), 'error').
 *
 * grpc-js keeps that object private (`call`); where it is missing (another
 * grpc-js version), messages go through the stream as usual.
 */
export function messageWriter<T>(
  stream: ServerWritableStream<unknown, T>,
  bytesOf: (message: T) => number,
): MessageWriter<T> {
  const call = callBeneath(stream);
  if (!call) return streamWriter(stream);
  // Sizes of the messages in flight, oldest first: a stream's writes complete in order.
  const sizes: number[] = [];
  let inFlightBytes = 0;
  let drain: (() => void) | undefined;
  let waiting = false;
  // One callback for every message: no closure per write.
  const sent = () => {
    inFlightBytes -= sizes.shift() ?? 0;
    if (waiting && sizes.length === 0) {
      waiting = false;
      drain?.();
    }
  };
  return {
    write(message) {
      const bytes = bytesOf(message);
      sizes.push(bytes);
      inFlightBytes += bytes;
      call.sendMessage(message, sent);
      if (sizes.length < MAX_IN_FLIGHT && inFlightBytes < MAX_IN_FLIGHT_BYTES) return true;
      waiting = true;
      return false;
    },
    onDrain(callback) {
      drain = callback;
    },
  };
}

/** grpc-js's call object beneath a server stream, where this grpc-js has it. */
export function callBeneath(stream: ServerWritableStream<unknown, unknown>): CallBeneath | undefined {
  const beneath = (stream as unknown as { call?: Partial<CallBeneath> }).call;
  return typeof beneath?.sendMessage === "function" ? (beneath as CallBeneath) : undefined;
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
