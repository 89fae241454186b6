// Case-insensitive globs (`*` any run, `?` one character) matched without backtracking. Filter patterns come
// from the tenant, but the texts they meet (a failed sign-in's UserId) are whatever a stranger typed, so the
// cost must be linear in the text whatever the pattern: a regular expression built from `*a*a*a*b` is not.
//
// Method: split the pattern on `*`. The first piece must match at the start, the last at the end, and each
// middle piece at its leftmost place after the previous one. Leftmost is always safe: every token consumes
// exactly one character, so an earlier start ends earlier and leaves the rest more room.
//
// Bound, for a text of n UTF-16 units and a pattern of m: O(n + m) when no middle piece contains `?` (those
// are found by KMP, and the pieces' searches scan disjoint stretches of the text), otherwise O(n·q + m) with
// q the length of the longest middle piece containing `?` (searched naively: at most q comparisons per start).
// Folding the case is O(n) too.
//
// Case: both sides go through foldCase, String.prototype.toLowerCase (locale-independent), and final sigma `ς`
// is compared as `σ` (toLowerCase picks one of them from the neighbours, which a `*` in the pattern would change).
// A character is a code point of the folded text, so `?` matches one emoji (not half of it) and a character
// whose lower case is longer counts as what it becomes: `İ` (U+0130, the only one) folds to `i` + U+0307, so
// it matches `İ`, `i?` or `??`, not a lone `?`. No full case folding: `ß` does not match `ss`.

/** A folded text: what `matches` expects; compute it once per value and test every pattern against it. */
export function foldCase(text: string): string {
  return text.toLowerCase();
}

const FINAL_SIGMA = 0x3c2;
const SIGMA = 0x3c3;
/** Code points are compared through this: ς and σ are one letter. */
const sigma = (cp: number): number => (cp === FINAL_SIGMA ? SIGMA : cp);
const sigmaAsOne = (folded: string): string => (folded.includes('ς') ? folded.replaceAll('ς', 'σ') : folded);

/** `?` among a piece's tokens; every other token is a code point. */
const ANY = -1;

interface Piece {
  readonly tokens: readonly number[];
  /** KMP failure table, for middle pieces without `?`. */
  readonly failure?: readonly number[];
}

export interface Glob {
  readonly source: string;
  /** Whether the glob has `*` or `?`: without either it matches exactly its own folded text. */
  readonly wildcard: boolean;
  /** Tests a text already passed through foldCase. */
  matches(folded: string): boolean;
}

const codePointWidth = (cp: number): number => (cp > 0xffff ? 2 : 1);

function tokenize(piece: string): number[] {
  const tokens: number[] = [];
  for (const ch of piece) tokens.push(ch === '?' ? ANY : sigma(ch.codePointAt(0)!));
  return tokens;
}

function failureTable(tokens: readonly number[]): number[] {
  const failure = new Array<number>(tokens.length).fill(0);
  for (let i = 1, k = 0; i < tokens.length; i++) {
    while (k > 0 && tokens[i] !== tokens[k]) k = failure[k - 1]!;
    if (tokens[i] === tokens[k]) k++;
    failure[i] = k;
  }
  return failure;
}

/** Matches `tokens` starting at unit `at`, not past `limit`; the end unit, or -1. */
function matchForward(tokens: readonly number[], text: string, at: number, limit: number): number {
  let i = at;
  for (const token of tokens) {
    if (i >= limit) return -1;
    const cp = text.codePointAt(i)!;
    if (token !== ANY && token !== sigma(cp)) return -1;
    i += codePointWidth(cp);
  }
  return i > limit ? -1 : i;
}

/** The code point that ends just before unit `end` (a surrogate pair read whole, as codePointAt does). */
function codePointBefore(text: string, end: number): number {
  const low = text.charCodeAt(end - 1);
  if (low >= 0xdc00 && low <= 0xdfff && end >= 2) {
    const high = text.charCodeAt(end - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.codePointAt(end - 2)!;
  }
  return low;
}

/** Matches `tokens` ending at unit `end`; the start unit, or -1. */
function matchBackward(tokens: readonly number[], text: string, end: number): number {
  let j = end;
  for (let t = tokens.length - 1; t >= 0; t--) {
    if (j <= 0) return -1;
    const cp = codePointBefore(text, j);
    const token = tokens[t]!;
    if (token !== ANY && token !== sigma(cp)) return -1;
    j -= codePointWidth(cp);
  }
  return j;
}

/** The end of the leftmost match of `piece` within units [from, limit), or -1. */
function findLeftmost(piece: Piece, text: string, from: number, limit: number): number {
  const { tokens, failure } = piece;
  if (failure) {
    // KMP over code points: the text is read once, never backwards.
    let k = 0;
    for (let i = from; i < limit; ) {
      const raw = text.codePointAt(i)!;
      i += codePointWidth(raw);
      const cp = sigma(raw);
      while (k > 0 && tokens[k] !== cp) k = failure[k - 1]!;
      if (tokens[k] === cp) k++;
      if (k === tokens.length) return i > limit ? -1 : i;
    }
    return -1;
  }
  for (let start = from; start + tokens.length <= limit; start += codePointWidth(text.codePointAt(start)!)) {
    const end = matchForward(tokens, text, start, limit);
    if (end >= 0) return end;
  }
  return -1;
}

export function compileGlob(glob: string): Glob {
  const parts = foldCase(glob).split('*');
  const wildcard = parts.length > 1 || glob.includes('?');
  const first = tokenize(parts[0]!);
  if (parts.length === 1) {
    return { source: glob, wildcard, matches: (text) => matchForward(first, text, 0, text.length) === text.length };
  }
  const last = tokenize(parts[parts.length - 1]!);
  const middle: Piece[] = parts
    .slice(1, -1)
    .filter((part) => part !== '')
    .map((part) => {
      const tokens = tokenize(part);
      return tokens.includes(ANY) ? { tokens } : { tokens, failure: failureTable(tokens) };
    });
  return {
    source: glob,
    wildcard,
    matches(text) {
      let at = matchForward(first, text, 0, text.length);
      if (at < 0) return false;
      const limit = matchBackward(last, text, text.length);
      if (limit < at) return false;
      for (const piece of middle) {
        at = findLeftmost(piece, text, at, limit);
        if (at < 0) return false;
      }
      return true;
    },
  };
}

/**
 * Whether `text` matches any of `globs`. Wildcard-free globs are looked up in a Set (after a length check, so a
 * long text is not hashed for nothing); the text is folded once.
 */
export function compileGlobs(globs: readonly string[]): (text: string) => boolean {
  const compiled = globs.map(compileGlob);
  const patterns = compiled.filter((g) => g.wildcard);
  const exact = new Set(compiled.filter((g) => !g.wildcard).map((g) => sigmaAsOne(foldCase(g.source))));
  const exactLengths = new Set([...exact].map((name) => name.length));
  return (text) => {
    const folded = foldCase(text);
    if (exactLengths.has(folded.length) && exact.has(sigmaAsOne(folded))) return true;
    for (const pattern of patterns) if (pattern.matches(folded)) return true;
    return false;
  };
}

/** One-off convenience: folds both sides. For many texts, compile once and fold each text once. */
export function globMatches(glob: string, text: string): boolean {
  return compileGlob(glob).matches(foldCase(text));
}
