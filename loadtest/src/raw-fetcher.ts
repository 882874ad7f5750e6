import { bodyField } from "./grpc-client.js";
import { H2Connection } from "./h2/h2-connection.js";
import { grpcRequestHeaders } from "./h2/request-headers.js";
import { UnaryReply } from "./h2/unary-reply.js";
import { varintSize, writeVarint } from "./raw-publisher.js";

/**
 * A lean gRPC Fetch client for the constant-rate Fetch scenarios, on the lean
 * HTTP/2 connection (see RawPublisher for why): latencies at a fixed rate
 * then show the server, not the load client's garbage collection. Calls are
 * spread round-robin over `connections` connections.
 */
export class RawFetcher {
  private readonly connections: H2Connection[];
  private readonly headers: Buffer;
  private next = 0;

  constructor(address: string, connections: number) {
    this.connections = Array.from({ length: connections }, () => new H2Connection(address));
    this.headers = grpcRequestHeaders(address, "/broker.Broker/Fetch");
  }

  /** Resolves with the message's body; rejects on a non-OK status or a failed stream. */
  fetch(subject: string, id: number): Promise<Buffer> {
    const connection = this.connections[this.next++ % this.connections.length] as H2Connection;
    return new Promise((resolve, reject) => {
      connection.request(
        this.headers,
        fetchRequest(subject, id),
        new UnaryReply("fetch", (message) => resolve(bodyField(message)), reject),
      );
    });
  }

  close(): void {
    for (const connection of this.connections) connection.close();
  }
}

/** FetchRequest { subject = 1, id = 2 } by hand, in one buffer. */
export function fetchRequest(subject: string, id: number): Buffer {
  const subjectLength = Buffer.byteLength(subject, "utf8");
  const out = Buffer.allocUnsafe(1 + varintSize(subjectLength) + subjectLength + (id > 0 ? 1 + varintSize(id) : 0));
  out[0] = 0x0a;
  let pos = writeVarint(out, 1, subjectLength);
  pos += out.write(subject, pos, "utf8");
  // proto3 leaves a zero id out.
  if (id > 0) {
    out[pos++] = 0x10;
    writeVarint(out, pos, id);
  }
  return out;
}
