import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { Broker as BrokerService } from "../../../gen/broker/broker_pb.js";
import type { Broker } from "../../core/broker.js";
import type { Log } from "../../core/log.js";
import { toMessageResponse, toPublishBatchResponse, toPublishResponse } from "../messages.js";
import { toConnectError } from "../status.js";
import { markStreamLive } from "./early-headers.js";

/** The Broker service for connect-node (Connect, gRPC-Web, gRPC): translation only. */
export function brokerRoutes(broker: Broker, log: Log): (router: ConnectRouter) => void {
  return (router) =>
    router.service(BrokerService, {
      async publish(request) {
        try {
          const { subject, body, expirationSeconds, idempotencyKey } = request;
          return toPublishResponse(await broker.publish({ subject, body, expirationSeconds, idempotencyKey }));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async publishBatch(request) {
        try {
          return toPublishBatchResponse(await broker.publishBatch(request.messages));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async fetch(request) {
        try {
          return toMessageResponse(await broker.fetch(request.subject, request.id));
        } catch (err) {
          throw toConnectError(err, log);
        }
      },

      async *subscribe(request, context: HandlerContext) {
        let subscription: Awaited<ReturnType<Broker["subscribe"]>>;
        try {
          subscription = await broker.subscribe(request.subject, { resumeAfterId: request.resumeAfterId });
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
