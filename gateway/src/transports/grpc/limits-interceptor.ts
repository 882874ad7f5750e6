import type {
  Metadata,
  ServerInterceptingCall,
  ServerInterceptingCallInterface,
  ServerInterceptor,
} from "@grpc/grpc-js";
import { Broker } from "../../../gen/broker/broker_pb.js";
import { type Authenticator, OPEN } from "../../auth/authenticator.js";
import { deadlineExceeded, invalidArgument } from "../../core/errors.js";
import type { ClientLimits, StalledRequest } from "../../limits/client-limits.js";
import { resetStreamAfterStatus } from "../../patches/grpc-js-call-internals.js";
import { clientIdentity } from "../client-identity.js";
import type { ConnectionAdmission } from "../connection-admission.js";
import { toGrpcStatus } from "../status.js";
import { MalformedRequest } from "./malformed-request.js";

type Listener = Parameters<ServerInterceptingCallInterface["start"]>[0];
type Status = Parameters<ServerInterceptingCallInterface["sendStatus"]>[0];

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
export function limitsInterceptor(
  limits: ClientLimits,
  admission: ConnectionAdmission | undefined,
  auth: Authenticator = OPEN,
): ServerInterceptor {
  // grpc-js types an interceptor's result as its own class but only calls the interface's methods.
  return (descriptor, call) =>
    new LimitedCall(call, descriptor.path, limits, admission, auth) as unknown as ServerInterceptingCall;
}

/**
 * One object per call that is both the call its handler talks to and the
 * listener of the call beneath it: every call of the port passes here, and
 * grpc-js's ServerInterceptingCall (builders, wrapped listeners, queued
 * events for asynchronous interceptors) cost the unary Publish measurably.
 * Everything here is synchronous, so events pass straight through.
 */
class LimitedCall implements ServerInterceptingCallInterface, StalledRequest {
  private listener: Listener | undefined;
  private refused = false;
  private release: (() => void) | undefined;
  private authorization: string | undefined;

  constructor(
    private readonly next: ServerInterceptingCallInterface,
    private readonly method: string,
    private readonly limits: ClientLimits,
    admission: ConnectionAdmission | undefined,
    private readonly auth: Authenticator,
  ) {
    if (admission) {
      const { remoteAddress, remotePort } = next.getConnectionInfo();
      admission.requestSeen(remoteAddress, remotePort);
    }
  }

  start(listener: Listener): void {
    this.listener = listener;
    this.limits.pendingRequests.add(this);
    this.next.start(this);
  }

  // The listener of the call beneath.

  onReceiveMetadata(metadata: Metadata): void {
    const authorization = metadata.get("authorization")[0];
    if (typeof authorization === "string") this.authorization = authorization;
    if (this.method === SUBSCRIBE) {
      try {
        this.release = this.limits.streams.open(this.client().connection);
      } catch (err) {
        this.refuse(err);
        return;
      }
    }
    this.listener?.onReceiveMetadata(metadata);
  }

  onReceiveMessage(message: unknown): void {
    if (this.refused) return;
    this.limits.pendingRequests.delete(this);
    try {
      if (message instanceof MalformedRequest) throw invalidArgument(message.reason);
      const count = this.limits.publishRate.enabled ? publishCount(this.method, message) : 0;
      if (count > 0) this.limits.takePublish(this.client().principal, count);
    } catch (err) {
      this.refuse(err);
      return;
    }
    this.listener?.onReceiveMessage(message);
  }

  onReceiveHalfClose(): void {
    if (this.refused) return;
    this.limits.pendingRequests.delete(this);
    this.listener?.onReceiveHalfClose();
  }

  onCancel(): void {
    this.done();
    this.listener?.onCancel();
  }

  /** REQUEST_READ_TIMEOUT_MS passed before the request message arrived in full. */
  stall(): void {
    const ms = this.limits.config.requestReadTimeoutMs;
    this.refuse(deadlineExceeded(`the request did not arrive in full within ${ms} ms (REQUEST_READ_TIMEOUT_MS)`));
    // The client is still mid-request: stop it holding the stream (and grpc-js its partial frame).
    resetStreamAfterStatus(this.next);
  }

  // The call its handler talks to.

  sendMetadata(metadata: Metadata): void {
    this.next.sendMetadata(metadata);
  }

  sendMessage(message: unknown, callback: () => void): void {
    this.next.sendMessage(message, callback);
  }

  sendStatus(status: Status): void {
    this.done();
    this.next.sendStatus(status);
  }

  startRead(): void {
    this.next.startRead();
  }

  getPeer(): string {
    return this.next.getPeer();
  }

  getDeadline(): ReturnType<ServerInterceptingCallInterface["getDeadline"]> {
    return this.next.getDeadline();
  }

  getHost(): string {
    return this.next.getHost();
  }

  getAuthContext(): ReturnType<ServerInterceptingCallInterface["getAuthContext"]> {
    return this.next.getAuthContext();
  }

  getConnectionInfo(): ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]> {
    return this.next.getConnectionInfo();
  }

  getMetricsRecorder(): ReturnType<ServerInterceptingCallInterface["getMetricsRecorder"]> {
    return this.next.getMetricsRecorder();
  }

  private client() {
    const { remoteAddress, remotePort } = this.next.getConnectionInfo();
    return clientIdentity(remoteAddress, remotePort, this.auth.verifiedSubject(this.authorization));
  }

  private refuse(err: unknown): void {
    this.refused = true;
    this.done();
    this.next.sendStatus(toGrpcStatus(err) as Status);
  }

  private done(): void {
    this.limits.pendingRequests.delete(this);
    this.release?.();
    this.release = undefined;
  }
}

/** Publish tokens a call spends: 1 per Publish, one per message of a PublishBatch, none otherwise. */
function publishCount(method: string, message: unknown): number {
  if (method === PUBLISH) return 1;
  if (method === PUBLISH_BATCH) return (message as { messages?: readonly unknown[] }).messages?.length ?? 0;
  return 0;
}
