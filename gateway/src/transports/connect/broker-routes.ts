import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Broker as BrokerService } from "../../../gen/broker/broker_pb.js";
import type { Authenticator } from "../../auth/authenticator.js";
import type { Broker } from "../../core/broker.js";
import type { Caller } from "../../core/caller.js";
import type { Log } from "../../core/log.js";
import { toMessageResponse, toPublishBatchResponse, toPublishResponse } from "../messages.js";
import { toConnectError } from "../status.js";
import { markStreamLive } from "./early-headers.js";

/**
 * The Broker service for connect-node (Connect, gRPC-Web, gRPC): translation
 * only (the `authorization` header into a Caller).
 */
export function brokerRoutes(broker: Broker, auth: Authenticator, log: Log): (router: ConnectRouter) => void {
  const as = <T>(context: HandlerContext, call: (caller: Caller) => Promise<T>): Promise<T> =>
    auth.as(context.requestHeader.get("authorization") ?? undefined, call);
  return (router) =>
    router.service(BrokerService, {
      async publish(request, context) {
        try {
          const { subject, body, expirationSeconds, idempotencyKey } = request;
          const input = { subject, body, expirationSeconds, idempotencyKey };
          return toPublishResponse(await as(context, (caller) => broker.publish(input, caller)));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async publishBatch(request, context) {
        try {
          return toPublishBatchResponse(await as(context, (caller) => broker.publishBatch(request.messages, caller)));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async fetch(request, context) {
        try {
          return toMessageResponse(await as(context, (caller) => broker.fetch(request.subject, request.id, caller)));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async *subscribe(request, context: HandlerContext) {
        let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
        try {
          const resume = { resumeAfterId: request.resumeAfterId };
          subscription = await as(context, (caller) => broker.subscribe(request.subject, resume, caller));
        } catch (err) {
          throw toConnectError(err, log);
        }
        const stop = () => void subscription.return();
        context.signal.addEventListener("abort", stop, { once: true });
        try {
          markStreamLive(context);
          // connect-node pulls one message at a time, so backpressure is built in.
          for await (const message of subscription) yield toMessageResponse(message);
        } catch (err) {
          throw toConnectError(err, log);
        } finally {
          context.signal.removeEventListener("abort", stop);
          stop();
        }
      },
    });
}
