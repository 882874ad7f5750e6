import { Metadata, type ServerWritableStream } from "@grpc/grpc-js";
import type { MessageResponse, SubscribeRequest } from "../../../gen/broker/broker_pb.js";
import type { Log } from "../../core/log.js";
import type { Subscription } from "../../core/subscription.js";
import { toMessageResponse } from "../messages.js";
import { toGrpcStatus } from "../status.js";
import { messageWriter } from "./message-writer.js";

type SubscribeCall = ServerWritableStream<SubscribeRequest, MessageResponse>;

/**
 * Writes a subscription to a gRPC server stream by draining it: the
 * subscription wakes the stream synchronously (inside the fan-out's delivery
 * loop), and the stream writes everything buffered until its MessageWriter
 * pushes back, then waits to be told the writes went out (message-writer.ts).
 * No promise or microtask per message: at
 * fan-out rates that bookkeeping was a measurable share of the server's CPU.
 *
 * Honouring backpressure matters: a slow client makes the subscription stop
 * buffering and catch up from storage, instead of growing memory here.
 */
export function streamSubscription(subscription: Subscription, call: SubscribeCall, log: Log): void {
  const writer = messageWriter<MessageResponse>(call, (message) => message.body.byteLength);
  let waitingForDrain = false;
  let finished = false;

  /** Ends the call as the subscription ended: normally, or with its error (or the stream's own). */
  const finish = (error: unknown = subscription.error): void => {
    // Once: ending the call can close it synchronously, which re-enters pump.
    if (finished) return;
    finished = true;
    call.off("cancelled", onGone);
    call.off("close", onGone);
    subscription.end();
    if (call.cancelled) return;
    if (error) call.emit("error", toGrpcStatus(error, log));
    else call.end();
  };

  const pump = (): void => {
    if (finished || waitingForDrain) return;
    try {
      for (let delivery = subscription.take(); delivery; delivery = subscription.take()) {
        if (!writer.write(toMessageResponse(delivery))) {
          waitingForDrain = true;
          return;
        }
      }
      if (subscription.ended) finish();
    } catch (err) {
      // A broken call ends this stream only; it never propagates into the
      // fan-out loop that is delivering to the other subscribers.
      finish(err);
    }
  };

  const onDrain = (): void => {
    waitingForDrain = false;
    pump();
  };

  /** The client went away (or the call closed): stop the subscription and let pump finish. */
  const onGone = (): void => {
    waitingForDrain = false;
    subscription.end();
    pump();
  };

  writer.onDrain(onDrain);
  call.once("cancelled", onGone);
  call.once("close", onGone);
  subscription.onReadable(pump);
  if (call.cancelled) {
    onGone();
    return;
  }
  // The subscription is registered: headers now tell the client it is live.
  call.sendMetadata(new Metadata());
  // Whatever arrived before the wake-up was set, or the first catch-up read.
  pump();
}
