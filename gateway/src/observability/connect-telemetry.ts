import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { RpcCall, RpcTelemetry } from "./rpc-telemetry.js";

const CANCELED = 1;

/**
 * Metrics and a span per RPC on the HTTP port (Connect, gRPC-Web and gRPC),
 * as a connect-node interceptor. A streaming response is wrapped so each
 * message is counted and produced inside the call's trace context.
 */
export function connectTelemetryInterceptor(telemetry: RpcTelemetry): Interceptor {
  return (next) => async (request) => {
    const kind = request.method.methodKind;
    const type =
      kind === "server_streaming"
        ? "server_stream"
        : kind === "client_streaming"
          ? "client_stream"
          : kind === "bidi_streaming"
            ? "bidi_stream"
            : "unary";
    const rpc = telemetry.start(
      "connect",
      `/${request.service.typeName}/${request.method.name}`,
      type,
      request.header,
      readHeader,
    );
    if (!request.stream) rpc.messageReceived();
    try {
      const response = await rpc.run(next, request, undefined);
      if (!response.stream) {
        rpc.messageSent();
        rpc.end(0);
        return response;
      }
      return { ...response, message: counted(response.message, rpc, request.signal) };
    } catch (err) {
      const error = ConnectError.from(err);
      rpc.end(error.code, error.rawMessage);
      throw err;
    }
  };
}

function nextOf<T>(iterator: AsyncIterator<T>): Promise<IteratorResult<T>> {
  return iterator.next();
}

function readHeader(headers: Headers, name: string): string | undefined {
  return headers.get(name) ?? undefined;
}

async function* counted<T>(messages: AsyncIterable<T>, rpc: RpcCall, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      const result = await rpc.run(nextOf, iterator, undefined);
      if (result.done) break;
      rpc.messageSent();
      yield result.value;
    }
    rpc.end(signal.aborted ? CANCELED : 0);
  } catch (err) {
    const error = ConnectError.from(err);
    rpc.end(signal.aborted ? CANCELED : error.code, error.rawMessage);
    throw err;
  } finally {
    // The client went away mid-stream: connect-node stops pulling and returns us.
    rpc.end(CANCELED);
    await iterator.return?.();
  }
}
