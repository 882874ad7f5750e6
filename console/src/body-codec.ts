/** Message bodies are bytes: the console types them as text (UTF-8) or base64 and shows them back. */

export type BodyEncoding = "text" | "base64";

export class BodyEncodingError extends Error {
  override readonly name = "BodyEncodingError";
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function encodeBody(input: string, encoding: BodyEncoding): Uint8Array {
  if (encoding === "text") return new TextEncoder().encode(input);
  const compact = input.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new BodyEncodingError(
      "the body is not valid base64 (A-Z, a-z, 0-9, + and /, padded with = to a multiple of 4)",
    );
  }
  const binary = atob(compact);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunks keep String.fromCharCode's argument list short for large bodies.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** Control characters other than tab, newline and carriage return mark a body as binary. */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return true;
  }
  return false;
}

/** How a body is shown: as text when it is printable UTF-8, otherwise as base64. */
export function describeBody(bytes: Uint8Array): { readonly encoding: BodyEncoding; readonly value: string } {
  try {
    const text = strictUtf8.decode(bytes);
    if (!hasControlCharacters(text)) return { encoding: "text", value: text };
  } catch {
    // Not UTF-8: fall through to base64.
  }
  return { encoding: "base64", value: toBase64(bytes) };
}
