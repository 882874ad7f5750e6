/**
 * NATS-style subject patterns, compiled once per token so a permission check
 * is a set lookup or a scan of a few short strings, with no allocation.
 *
 * Subjects are tokens separated by '.'. In a pattern, a token '*' matches
 * exactly one token (any, even empty), and '>' as the last token matches one
 * or more remaining tokens; every other token matches itself exactly ('*' and
 * '>' inside a longer token are literal, as in NATS). So 'orders.>' matches
 * 'orders.eu' and 'orders.eu.1' but not 'orders'; '>' matches every subject.
 */
export class SubjectPatterns {
  private readonly exact = new Set<string>();
  private readonly wildcards: (readonly string[])[] = [];
  private readonly everything: boolean;

  private constructor(patterns: readonly string[]) {
    let everything = false;
    for (const pattern of patterns) {
      const tokens = pattern.split(".");
      if (tokens.length === 1 && tokens[0] === ">") everything = true;
      else if (tokens.includes("*") || tokens.includes(">")) this.wildcards.push(tokens);
      else this.exact.add(pattern);
    }
    this.everything = everything;
  }

  /** Compiles patterns; throws an Error saying which pattern is invalid and why. */
  static compile(patterns: readonly string[]): SubjectPatterns {
    for (const pattern of patterns) {
      const problem = patternProblem(pattern);
      if (problem) throw new Error(`invalid subject pattern '${pattern}': ${problem}`);
    }
    return new SubjectPatterns(patterns);
  }

  matches(subject: string): boolean {
    if (this.everything || this.exact.has(subject)) return true;
    for (const tokens of this.wildcards) if (matchTokens(tokens, subject)) return true;
    return false;
  }

  /** True when no subject can match (an empty list). */
  get isEmpty(): boolean {
    return !this.everything && this.exact.size === 0 && this.wildcards.length === 0;
  }
}

function patternProblem(pattern: string): string | undefined {
  if (pattern === "") return "empty";
  const tokens = pattern.split(".");
  if (tokens.some((token) => token === "")) return "empty token (leading, trailing or doubled '.')";
  const full = tokens.indexOf(">");
  if (full !== -1 && full !== tokens.length - 1) return "'>' must be the last token";
  return undefined;
}

/** Walks the subject's tokens in place (no split): pattern tokens against subject tokens. */
function matchTokens(tokens: readonly string[], subject: string): boolean {
  let start = 0;
  for (const token of tokens) {
    // start > length: the subject has no token left.
    if (start > subject.length) return false;
    if (token === ">") return true;
    const dot = subject.indexOf(".", start);
    const end = dot === -1 ? subject.length : dot;
    if (token !== "*" && (end - start !== token.length || !subject.startsWith(token, start))) return false;
    start = end + 1;
  }
  return start === subject.length + 1;
}
