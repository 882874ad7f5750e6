/**
 * What a request deserializer returns instead of throwing: grpc-js answers a
 * throwing deserializer with INTERNAL ("Error deserializing request"), but a
 * truncated message or invalid UTF-8 is the client's fault. The limits
 * interceptor (limits-interceptor.ts), which every call passes, answers this
 * with INVALID_ARGUMENT before any handler sees it.
 */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** Wraps a request decoder so that undecodable bytes become a MalformedRequest. */
export function tolerantDecoder<T>(typeName: string, decode: (bytes: Buffer) => T): (bytes: Buffer) => T {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      const reason = `malformed request: cannot decode ${typeName}: ${err instanceof Error ? err.message : String(err)}`;
      // Typed as the message only for grpc-js's sake; the interceptor takes it out.
      return new MalformedRequest(reason) as unknown as T;
    }
  };
}
