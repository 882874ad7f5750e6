import { type ContextValues, createContextKey } from "@connectrpc/connect";
import type { BrokerError } from "../../core/errors.js";
import type { ClientIdentity } from "../client-identity.js";

/** The client of a call (set per request from its connection). */
export const kClient = createContextKey<ClientIdentity | undefined>(undefined, { description: "the call's client" });

/** Set when the request gate refused the request; the limits interceptor raises it. */
export const kRefusal = createContextKey<BrokerError | undefined>(undefined, {
  description: "why the request is refused",
});

export function clientOf(values: ContextValues): ClientIdentity | undefined {
  return values.get(kClient);
}
