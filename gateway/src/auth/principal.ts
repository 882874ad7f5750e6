import type { JWTPayload } from "jose";
import type { Caller } from "../core/caller.js";
import { SubjectPatterns } from "./subject-pattern.js";

/**
 * An authenticated caller: the token's `sub`, its permissions compiled from
 * the `broker` claim, and when it stops being accepted.
 *
 * The claim: `"broker": { "publish": ["orders.>"], "subscribe": ["orders.*", "audit"] }`.
 * A missing list (or claim) grants nothing of that kind.
 */
export class Principal implements Caller {
  private constructor(
    readonly id: string,
    readonly expiresAt: number,
    private readonly publish: SubjectPatterns,
    private readonly subscribe: SubjectPatterns,
  ) {}

  /** Builds from verified claims; throws an Error naming what is wrong with the `broker` claim. */
  static fromClaims(claims: JWTPayload, expiresAt: number): Principal {
    const broker = claims.broker ?? {};
    if (typeof broker !== "object" || broker === null || Array.isArray(broker)) {
      throw new Error("the 'broker' claim must be an object with 'publish' and 'subscribe' lists");
    }
    const lists = broker as Record<string, unknown>;
    // An empty `sub` would share one idempotency scope among every such token.
    if (typeof claims.sub !== "string" || claims.sub === "") throw new Error("the 'sub' claim must not be empty");
    return new Principal(
      claims.sub,
      expiresAt,
      SubjectPatterns.compile(patternList(lists.publish, "publish")),
      SubjectPatterns.compile(patternList(lists.subscribe, "subscribe")),
    );
  }

  mayPublish(subject: string): boolean {
    return this.publish.matches(subject);
  }

  maySubscribe(subject: string): boolean {
    return this.subscribe.matches(subject);
  }
}

function patternList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new Error(`'broker.${name}' must be a list of subject patterns`);
  }
  return value;
}
