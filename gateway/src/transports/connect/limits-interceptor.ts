import type { Interceptor } from "@connectrpc/connect";
import { Broker } from "../../../gen/broker/broker_pb.js";
import { type Authenticator, OPEN } from "../../auth/authenticator.js";
import type { ClientLimits } from "../../limits/client-limits.js";
import { principalOf } from "../client-identity.js";
import { toConnectError } from "../status.js";
import { kClient, kRefusal } from "./call-context.js";

const { publish, publishBatch, subscribe } = Broker.method;

/**
 * The limits on the HTTP port, before a call reaches the broker: a refusal
 * from the request gate (malformed, stalled, too large), the publish rate of
 * the call's principal, and the Subscribe stream counts, whose slot is given
 * back when the call's signal ends it.
 */
export function limitsInterceptor(limits: ClientLimits, auth: Authenticator = OPEN): Interceptor {
  return (next) => async (request) => {
    const refusal = request.contextValues.get(kRefusal);
    if (refusal) throw toConnectError(refusal);
    const connectionClient = request.contextValues.get(kClient);
    if (!connectionClient) return next(request);
    // A token verified on an earlier call charges its owner's rate, not the address's.
    const sub = auth.verifiedSubject(request.header.get("authorization") ?? undefined);
    const client = sub ? { ...connectionClient, principal: principalOf(sub) } : connectionClient;
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
