import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SubjectPatterns } from "../gateway/src/auth/subject-pattern.js";

const matches = (patterns: string[], subject: string): boolean => SubjectPatterns.compile(patterns).matches(subject);

describe("subject patterns (NATS style)", () => {
  it("matches a literal pattern only to the same subject", () => {
    assert.equal(matches(["orders.eu"], "orders.eu"), true);
    assert.equal(matches(["orders.eu"], "orders.eu.1"), false);
    assert.equal(matches(["orders.eu"], "orders"), false);
    assert.equal(matches(["orders.eu"], "orders.e"), false);
  });

  it("matches '*' to exactly one token", () => {
    assert.equal(matches(["orders.*"], "orders.eu"), true);
    assert.equal(matches(["orders.*"], "orders.eu.1"), false);
    assert.equal(matches(["orders.*"], "orders"), false);
    assert.equal(matches(["*.eu.*"], "orders.eu.1"), true);
    assert.equal(matches(["*.eu.*"], "orders.us.1"), false);
    assert.equal(matches(["*"], "orders"), true);
    assert.equal(matches(["*"], "orders.eu"), false);
    assert.equal(matches(["a.*.c"], "a..c"), true, "an empty subject token is still one token");
  });

  it("matches '>' to one or more remaining tokens", () => {
    assert.equal(matches(["orders.>"], "orders.eu"), true);
    assert.equal(matches(["orders.>"], "orders.eu.1.2"), true);
    assert.equal(matches(["orders.>"], "orders"), false);
    assert.equal(matches(["orders.>"], "ordersx.eu"), false);
    assert.equal(matches([">"], "anything.at.all"), true);
    assert.equal(matches(["*.>"], "a"), false);
    assert.equal(matches(["*.>"], "a.b"), true);
  });

  it("treats '*' and '>' inside a longer token as literal characters", () => {
    assert.equal(matches(["orders.e*"], "orders.eu"), false);
    assert.equal(matches(["orders.e*"], "orders.e*"), true);
    assert.equal(matches(["a>.b"], "a>.b"), true);
  });

  it("allows a subject when any pattern of the list matches; an empty list allows nothing", () => {
    const patterns = SubjectPatterns.compile(["audit", "orders.*.new", "billing.>"]);
    assert.deepEqual(
      ["audit", "orders.eu.new", "billing.x.y", "orders.eu.old", "audit.x", "billing"].map((s) => patterns.matches(s)),
      [true, true, true, false, false, false],
    );
    assert.equal(SubjectPatterns.compile([]).matches("audit"), false);
    assert.equal(SubjectPatterns.compile([]).isEmpty, true);
  });

  it("refuses patterns with '>' before the end or empty tokens, naming the pattern", () => {
    for (const bad of ["a.>.b", ">.a", "", "a..b", ".a", "a."]) {
      assert.throws(
        () => SubjectPatterns.compile(["ok", bad]),
        (err: unknown) => err instanceof Error && err.message.includes(`'${bad}'`),
        bad,
      );
    }
  });

  it("decides a wildcard list quickly (well under a microsecond per check)", () => {
    const patterns = SubjectPatterns.compile(["tenant-1.orders.*.created", "tenant-1.audit.>", "tenant-2.*"]);
    const subjects = ["tenant-1.orders.eu.created", "tenant-1.audit.x.y", "tenant-3.orders", "tenant-2.x"];
    let allowed = 0;
    const n = 200_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (patterns.matches(subjects[i & 3] as string)) allowed += 1;
    const nsPerCheck = Number(process.hrtime.bigint() - start) / n;
    assert.equal(allowed, (n / 4) * 3);
    assert.ok(nsPerCheck < 1_000, `${nsPerCheck.toFixed(0)} ns per check`);
  });
});
