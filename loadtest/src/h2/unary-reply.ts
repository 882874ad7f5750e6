import type { StreamHandler } from "./h2-connection.js";

/**
 * Reads a unary gRPC reply from its framing: grpc-js answers a handler's
 * success with headers, one message and an OK status, and a failure with a
 * status alone (a trailers-only reply), so a complete message means OK. The
 * header blocks are not decoded, so a failure's status code is not known here.
 */
export class UnaryReply implements StreamHandler {
  private reply: Buffer | undefined;

  constructor(
    private readonly method: string,
    /** Gets the reply message's bytes (without the 5-byte gRPC frame header). */
    private readonly resolve: (message: Buffer) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  onHeaders(): void {}

  onData(buffer: Buffer, start: number, end: number): void {
    // Copied: the frame's buffer is only valid during the call.
    const part = Buffer.from(buffer.subarray(start, end));
    this.reply = this.reply ? Buffer.concat([this.reply, part]) : part;
  }

  onEnd(error: Error | undefined): void {
    if (error) {
      this.reject(error);
      return;
    }
    const reply = this.reply;
    if (!reply || reply.length < 5 || reply.length < 5 + reply.readUInt32BE(1)) {
      this.reject(new Error(`${this.method} failed: the reply carried a status and no message (a non-OK grpc-status)`));
      return;
    }
    this.resolve(reply.subarray(5, 5 + reply.readUInt32BE(1)));
  }
}
