import { ServerInterceptingCall, type ServerInterceptor, type StatusObject } from "@grpc/grpc-js";
import { Broker } from "../../../gen/broker/broker_pb.js";
import { deadlineExceeded, invalidArgument } from "../../core/errors.js";
import type { ClientLimits, StalledRequest } from "../../limits/client-limits.js";
import { clientIdentity } from "../client-identity.js";
import type { ConnectionAdmission } from "../connection-admission.js";
import { toGrpcStatus } from "../status.js";
import { resetStreamAfterStatus } from "./grpc-js-internals.js";
import { MalformedRequest } from "./malformed-request.js";

const path = (name: string) => `/${Broker.typeName}/${name}`;
const PUBLISH = path(Broker.method.publish.name);
const PUBLISH_BATCH = path(Broker.method.publishBatch.name);
const SUBSCRIBE = path(Broker.method.subscribe.name);

/**
 * The limits on the gRPC port, in the one place every call passes before its
 * handler: the connection's first request (ends its handshake deadline), a
 * request message that must arrive within REQUEST_READ_TIMEOUT_MS, a
 * MalformedRequest from the deserializer (INVALID_ARGUMENT), the publish rate
 * of the call's principal, and the Subscribe stream counts, whose slot is
 * given back with the call's status or cancellation. A refused call gets its
 * status here and goes no further. Installed last, so it wraps the telemetry
 * interceptor, which then counts the refusals with their codes.
 */
export function limitsInterceptor(limits: ClientLimits, admission: ConnectionAdmission | undefined): ServerInterceptor {
  return (descriptor, call) => {
    const { remoteAddress, remotePort } = call.getConnectionInfo();
    admission?.requestSeen(remoteAddress, remotePort);
    const method = descriptor.path;
    let refused = false;
    let release: (() => void) | undefined;
    const done = (): void => {
      limits.pendingRequests.delete(pending);
      release?.();
      release = undefined;
    };
    const refuse = (err: unknown): void => {
      refused = true;
      done();
      intercepting.sendStatus(toGrpcStatus(err) as StatusObject);
    };
    const pending: StalledRequest = {
      stall: () => {
        const ms = limits.config.requestReadTimeoutMs;
        refuse(deadlineExceeded(`the request did not arrive in full within ${ms} ms (REQUEST_READ_TIMEOUT_MS)`));
        // The client is still mid-request: stop it holding the stream (and grpc-js its partial frame).
        resetStreamAfterStatus(call);
      },
    };
    const intercepting: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => {
        limits.pendingRequests.add(pending);
        next({
          onReceiveMetadata: (metadata, forward) => {
            if (method === SUBSCRIBE) {
              try {
                release = limits.streams.open(clientIdentity(remoteAddress, remotePort).connection);
              } catch (err) {
                refuse(err);
                return;
              }
            }
            forward(metadata);
          },
          onReceiveMessage: (message, forward) => {
            if (refused) return;
            limits.pendingRequests.delete(pending);
            try {
              if (message instanceof MalformedRequest) throw invalidArgument(message.reason);
              const count = limits.publishRate.enabled ? publishCount(method, message) : 0;
              if (count > 0) limits.takePublish(clientIdentity(remoteAddress, remotePort).principal, count);
            } catch (err) {
              refuse(err);
              return;
            }
            forward(message);
          },
          onReceiveHalfClose: (forward) => {
            if (refused) return;
            limits.pendingRequests.delete(pending);
            forward();
          },
          onCancel: done,
        });
      },
      sendStatus: (status, next) => {
        done();
        next(status);
      },
    });
    return intercepting;
  };
}

/** Publish tokens a call spends: 1 per Publish, one per message of a PublishBatch, none otherwise. */
function publishCount(method: string, message: unknown): number {
  if (method === PUBLISH) return 1;
  if (method === PUBLISH_BATCH) return (message as { messages?: readonly unknown[] }).messages?.length ?? 0;
  return 0;
}
