import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TrimmedIds } from "../gateway/src/engines/archive/trimmed-ids.js";

describe("TrimmedIds (what a gateway knows has left Redis)", () => {
  it("knows nothing of a subject it has not learned", () => {
    const trimmed = new TrimmedIds();
    assert.equal(trimmed.has("a", 1), false);
  });

  it("covers every id up to the highest one learned, per subject", () => {
    const trimmed = new TrimmedIds();
    trimmed.learn("a", 10);
    trimmed.learn("a", 4); // older knowledge never lowers the mark
    assert.equal(trimmed.has("a", 1), true);
    assert.equal(trimmed.has("a", 10), true);
    assert.equal(trimmed.has("a", 11), false);
    assert.equal(trimmed.has("b", 1), false);
  });

  it("forgets the least recently learned subject past its bound", () => {
    const trimmed = new TrimmedIds(2);
    trimmed.learn("a", 5);
    trimmed.learn("b", 5);
    trimmed.learn("a", 6); // a learned again: b is now the oldest
    trimmed.learn("c", 5);
    assert.equal(trimmed.has("b", 1), false);
    assert.equal(trimmed.has("a", 6), true);
    assert.equal(trimmed.has("c", 5), true);
  });
});
