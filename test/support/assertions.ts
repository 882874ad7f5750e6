import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";

/** Asserts that `call` fails with a ConnectError of this code whose message matches `pattern`. */
export async function rejectsWith(call: Promise<unknown>, code: Code, pattern: RegExp): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
    assert.equal(Code[err.code], Code[code], err.rawMessage);
    assert.match(err.rawMessage, pattern);
    return true;
  });
}
