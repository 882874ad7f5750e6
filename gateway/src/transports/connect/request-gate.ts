import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { type BrokerError, deadlineExceeded, invalidArgument, resourceExhausted } from "../../core/errors.js";
import type { ClientLimits } from "../../limits/client-limits.js";

/**
 * Reads a request's body before connect-node does, so what is wrong with it
 * is the client's fault with a precise status: connect-node reports a
 * truncated message, invalid UTF-8 and a compressed frame without an encoding
 * as INTERNAL, and waits forever for a message that stops arriving. Every
 * broker method takes one request message, so the whole body is needed
 * before the handler runs anyway; it is bounded by readMaxBytes and by
 * REQUEST_READ_TIMEOUT_MS.
 *
 * The outcome: the body's chunks (to replay to connect-node), or a refusal,
 * which the gateway's interceptor raises inside connect-node so each
 * protocol writes it in its own form.
 */
export type GateOutcome =
  | { readonly ok: true; readonly chunks: Uint8Array[] }
  | { readonly ok: false; readonly refusal: BrokerError; readonly complete: boolean };

export async function gateRequest(
  body: AsyncIterable<Uint8Array>,
  header: Headers,
  input: DescMessage,
  limits: ClientLimits,
  readMaxBytes: number,
): Promise<GateOutcome> {
  const read = await readBody(body, limits, readMaxBytes);
  if (!read.ok) return read;
  const reason = malformation(header, input, read.chunks);
  if (reason) return { ok: false, refusal: invalidArgument(`malformed request: ${reason}`), complete: true };
  return read;
}

/** A body a refused request hands connect-node instead: one empty message in the request's framing. */
export function placeholderBody(contentType: string | null): Uint8Array {
  const { enveloped, json } = framing(contentType);
  const message = json ? new TextEncoder().encode("{}") : new Uint8Array(0);
  if (!enveloped) return message;
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length);
  out.set(message, 5);
  return out;
}

async function readBody(
  body: AsyncIterable<Uint8Array>,
  limits: ClientLimits,
  readMaxBytes: number,
): Promise<GateOutcome> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const iterator = body[Symbol.asyncIterator]();
  let stalled: (() => void) | undefined;
  const stall = new Promise<"stalled">((resolve) => {
    stalled = () => resolve("stalled");
  });
  const pending = { stall: () => stalled?.() };
  limits.pendingRequests.add(pending);
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), stall]);
      if (next === "stalled") {
        // Left unread: ending the iterator would destroy the request, and the answer with it.
        const ms = limits.config.requestReadTimeoutMs;
        return {
          ok: false,
          refusal: deadlineExceeded(`the request did not arrive in full within ${ms} ms (REQUEST_READ_TIMEOUT_MS)`),
          complete: false,
        };
      }
      if (next.done) return { ok: true, chunks };
      total += next.value.byteLength;
      if (total > readMaxBytes) {
        return {
          ok: false,
          refusal: resourceExhausted(`request is larger than ${readMaxBytes} bytes (MAX_REQUEST_BYTES)`),
          complete: false,
        };
      }
      chunks.push(next.value);
    }
  } finally {
    limits.pendingRequests.delete(pending);
  }
}

/** What is wrong with a complete body, if anything. JSON bodies are connect-node's to judge (it says INVALID_ARGUMENT). */
function malformation(header: Headers, input: DescMessage, chunks: Uint8Array[]): string | undefined {
  const contentType = header.get("content-type");
  const { enveloped, json, known } = framing(contentType);
  if (!known) return undefined;
  const bytes = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
  if (!enveloped) return json ? undefined : undecodable(input, bytes);
  const encodingHeader = contentType?.startsWith("application/connect") ? "connect-content-encoding" : "grpc-encoding";
  const encoding = (header.get(encodingHeader) ?? "identity").trim().toLowerCase();
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < 5)
      return `truncated frame: ${bytes.length - pos} bytes where a 5-byte frame header belongs`;
    const flags = bytes[pos] as number;
    const length = new DataView(bytes.buffer, bytes.byteOffset + pos + 1, 4).getUint32(0);
    const end = pos + 5 + length;
    if (end > bytes.length) return `truncated frame: it announces ${length} bytes, ${bytes.length - pos - 5} arrived`;
    if ((flags & 0x01) !== 0) {
      // A real encoding is connect-node's to accept or refuse (none is accepted: UNIMPLEMENTED).
      if (encoding === "identity") return `a frame is marked compressed but the request has no ${encodingHeader}`;
    } else if (!json) {
      const reason = undecodable(input, bytes.subarray(pos + 5, end));
      if (reason) return reason;
    }
    pos = end;
  }
  return undefined;
}

function undecodable(input: DescMessage, bytes: Uint8Array): string | undefined {
  try {
    fromBinary(input, bytes);
    return undefined;
  } catch (err) {
    return `cannot decode ${input.typeName}: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function framing(contentType: string | null): { enveloped: boolean; json: boolean; known: boolean } {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  switch (type) {
    case "application/proto":
      return { enveloped: false, json: false, known: true };
    case "application/json":
      return { enveloped: false, json: true, known: true };
    case "application/connect+proto":
    case "application/grpc":
    case "application/grpc+proto":
    case "application/grpc-web":
    case "application/grpc-web+proto":
      return { enveloped: true, json: false, known: true };
    case "application/connect+json":
    case "application/grpc+json":
    case "application/grpc-web+json":
      return { enveloped: true, json: true, known: true };
    default:
      return { enveloped: false, json: false, known: false };
  }
}
