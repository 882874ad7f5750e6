import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { loadConfig } from "../gateway/src/config.js";
import { ConfigError } from "../gateway/src/process/env.js";

describe("gateway configuration from the environment", () => {
  it("lets V8 grow the old generation 4x between full collections unless told otherwise", () => {
    assert.equal(loadConfig({}).heapGrowingPercent, 300);
    assert.equal(loadConfig({ HEAP_GROWING_PERCENT: "150" }).heapGrowingPercent, 150);
    assert.equal(loadConfig({ HEAP_GROWING_PERCENT: "0" }).heapGrowingPercent, 0, "0 keeps V8's own choice");
  });

  it("refuses a value that is not a whole number, naming the variable", () => {
    for (const bad of ["abc", "-1", "2.5"]) {
      assert.throws(
        () => loadConfig({ HEAP_GROWING_PERCENT: bad }),
        (err: unknown) => err instanceof ConfigError && err.message.includes("HEAP_GROWING_PERCENT"),
        bad,
      );
    }
  });
});

describe("setHeapGrowingPercent", () => {
  it("sets a V8 flag this Node has (an unknown flag would be ignored without a word)", () => {
    const options = execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
    assert.match(options, /--heap-growing-percent\b/);
  });
});
