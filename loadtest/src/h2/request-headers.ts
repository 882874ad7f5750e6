/**
 * The HPACK header block of a gRPC request (RFC 7541), made once per path:
 * static-table entries and literals without indexing and without Huffman
 * coding, so the encoder keeps no state and the block can be sent as is on
 * every stream.
 */
export function grpcRequestHeaders(authority: string, path: string): Buffer {
  const parts: number[] = [];
  const integer = (value: number, prefixBits: number, firstByte: number) => {
    const max = 2 ** prefixBits - 1;
    if (value < max) {
      parts.push(firstByte | value);
      return;
    }
    parts.push(firstByte | max);
    let rest = value - max;
    while (rest >= 0x80) {
      parts.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    parts.push(rest);
  };
  const text = (value: string) => {
    const bytes = Buffer.from(value, "latin1");
    integer(bytes.length, 7, 0x00); // H = 0: no Huffman coding
    parts.push(...bytes);
  };
  /** Literal header field without indexing, name from the static table (RFC 7541 6.2.2). */
  const literalIndexedName = (nameIndex: number, value: string) => {
    integer(nameIndex, 4, 0x00);
    text(value);
  };
  parts.push(0x80 | 3); // indexed: ":method: POST"
  parts.push(0x80 | 6); // indexed: ":scheme: http"
  literalIndexedName(4, path); // ":path"
  literalIndexedName(1, authority); // ":authority"
  literalIndexedName(31, "application/grpc"); // "content-type"
  parts.push(0x00); // literal without indexing, new name
  text("te");
  text("trailers");
  return Buffer.from(parts);
}
