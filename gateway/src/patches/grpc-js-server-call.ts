import type { ServerWritableStream } from "@grpc/grpc-js";
import type { MessageWriter } from "../transports/grpc/message-writer.js";
import { patchEnabled } from "./index.js";

/**
 * Patch: @grpc/grpc-js 1.14.7, the private `call` beneath a ServerWritableStream.
 *
 * A server stream's write() goes through a Writable (object mode, no writev)
 * that hands grpc-js's call object one message at a time and waits for each
 * to be written out before the next, with its own buffer entry, callbacks and
 * a nextTick per message; beneath it the HTTP/2 stream is a Writable again.
 * Calling the call object's sendMessage directly skips the outer one, and lets
 * the HTTP/2 stream send queued messages in one write. Interceptors still see
 * each message (sendMessage is where their chain starts); ending the stream
 * and its status stay with the ServerWritableStream.
 *
 * Measured 2026-12-03 (npm run bench:patches, one stream of 20,000 x 1 KiB in
 * process, off/on/off/on): 13.6-14.0 us of CPU per message against 36-44 us,
 * ratio 0.34; a gateway's fan-out with all patches: 0.85.
 * Shape test: test/patches.test.ts. Off: the stream's own write() and 'drain'.
 */

/** What grpc-js's call object beneath a server stream offers (the interceptor chain's entry). */
export interface CallBeneath {
  sendMessage(message: unknown, sent: () => void): void;
}

/** grpc-js's call object beneath a server stream, where this grpc-js has it (whatever the switch says). */
export function findCallBeneath(stream: ServerWritableStream<unknown, unknown>): CallBeneath | undefined {
  const beneath = (stream as unknown as { call?: Partial<CallBeneath> }).call;
  return typeof beneath?.sendMessage === "function" ? (beneath as CallBeneath) : undefined;
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

/** A writer straight onto the call beneath `stream`; undefined when the patch is off or the field is missing. */
export function writerBeneath<T>(
  stream: ServerWritableStream<unknown, T>,
  bytesOf: (message: T) => number,
): MessageWriter<T> | undefined {
  if (!patchEnabled("grpc-js-server-call")) return undefined;
  const call = findCallBeneath(stream);
  if (!call) return undefined;
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
