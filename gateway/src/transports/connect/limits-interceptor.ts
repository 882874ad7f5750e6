import type { Interceptor } from "@connectrpc/connect";
import { Broker } from "../../../gen/broker/broker_pb.js";
import type { ClientLimits } from "../../limits/client-limits.js";
import { toConnectError } from "../status.js";
import { kClient, kRefusal } from "./call-context.js";

const { publish, publishBatch, subscribe } = Broker.method;

/**
 * The limits on the HTTP port, before a call reaches the broker: a refusal
 * from the request gate (malformed, stalled, too large), the publish rate of
 * the call's principal, and the Subscribe stream counts, whose slot is given
 * back when the call's signal ends it.
 */
export function limitsInterceptor(limits: ClientLimits): Interceptor {
  return (next) => async (request) => {
    const refusal = request.contextValues.get(kRefusal);
    if (refusal) throw toConnectError(refusal);
    const client = request.contextValues.get(kClient);
    if (!client) return next(request);
    try {
      if (request.method === publish) {
        limits.takePublish(client.principal, 1);
      } else if (request.method === publishBatch && !request.stream) {
        const batch = request.message as { messages?: readonly unknown[] };
        limits.takePublish(client.principal, batch.messages?.length ?? 0);
      } else if (request.method === subscribe) {
        const release = limits.streams.open(client.connection);
        if (request.signal.aborted) release();
        else request.signal.addEventListener("abort", release, { once: true });
      }
    } catch (err) {
      throw toConnectError(err);
    }
    return next(request);
  };
}
