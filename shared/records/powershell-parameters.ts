// Cmdlet parameters written in PowerShell form, as some records carry them instead of a {Name, Value} list
// (Security & Compliance cmdlet records: `-Identity "x" -Export -Format FxStream -ExchangeLocation "a","b"`).
// The text is attacker-influenced, so the reader is one left-to-right pass over it: the index only moves forward
// and each character is looked at a bounded number of times, so the cost is linear in the length (no regular
// expression, no backtracking; nesting is tracked with an explicit stack). It is total: text that is not a
// well-formed sequence of parameters gives undefined and the caller keeps the string as written.

export interface PowerShellParameter {
  Name: string;
  /** One value, or the elements of a comma-separated list; a switch (`-Force`) is "True", as the list form writes it. */
  Value: string | string[];
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xa0 || c === 0xfeff || c === 0x0b || c === 0x0c;
const isNameStart = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
const isNameChar = (c: number) => isNameStart(c) || (c >= 0x30 && c <= 0x39);
const DQ = 0x22;
const SQ = 0x27;
const BACKTICK = 0x60;
const COMMA = 0x2c;
const openers: Readonly<Record<number, number>> = { 0x28: 0x29, 0x7b: 0x7d, 0x5b: 0x5d }; // ( { [
/** Characters that end a bare word or cannot appear in one. */
const isBareStop = (c: number) => isSpace(c) || c === COMMA || c === DQ || c === SQ || openers[c] !== undefined || c === 0x29 || c === 0x7d || c === 0x5d;

/** PowerShell's backtick escapes inside double quotes; any other escaped character stands for itself. */
const backtickEscapes: Readonly<Record<string, string>> = { '0': '\0', a: '\x07', b: '\b', e: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Named constants the list form writes as text. */
const constants: ReadonlyMap<string, string> = new Map([
  ['$true', 'True'],
  ['$false', 'False'],
  ['$null', ''],
]);

class Reader {
  i = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.i >= this.text.length;
  }
  code(offset = 0): number {
    return this.text.charCodeAt(this.i + offset); // NaN past the end: every comparison is false
  }
  skipSpaces(): boolean {
    const start = this.i;
    while (!this.done && isSpace(this.code())) this.i++;
    return this.i > start;
  }
  /** `-Name` where the reader stands on '-' and a letter follows. */
  atParameterName(): boolean {
    return this.code() === 0x2d && isNameStart(this.code(1));
  }
}

/**
 * A quoted string, the reader on its opening quote; undefined when unterminated. Both quotes double to escape
 * themselves ('' and ""). Double quotes also take backtick escapes and \" for a quote: the audit logger writes inner
 * quotes that way (`-ContentMatchQuery "subject:\"x\" AND …"`), which PowerShell itself would not.
 */
function quoted(r: Reader, raw: boolean): string | undefined {
  const start = r.i;
  const quote = r.code();
  const escapes = quote === DQ;
  r.i++; // opening quote
  let out = '';
  while (!r.done) {
    const c = r.code();
    if (escapes && c === BACKTICK) {
      if (r.i + 1 >= r.text.length) return undefined;
      const next = r.text[r.i + 1]!;
      out += backtickEscapes[next] ?? next;
      r.i += 2;
    } else if (escapes && c === 0x5c && r.code(1) === DQ) {
      out += '"';
      r.i += 2;
    } else if (c === quote) {
      if (r.code(1) === quote) {
        out += r.text[r.i]!;
        r.i += 2;
      } else {
        r.i++;
        return raw ? r.text.slice(start, r.i) : out;
      }
    } else {
      out += r.text[r.i]!;
      r.i++;
    }
  }
  return undefined;
}

/** `(…)`, `@(…)`, `@{…}`, `[…]` with balanced brackets (quotes inside respected), kept as written. */
function group(r: Reader): string | undefined {
  const start = r.i;
  if (r.code() === 0x40) r.i++; // @
  const closers: number[] = [];
  do {
    const c = r.code();
    const closer = openers[c];
    if (closer !== undefined) {
      closers.push(closer);
      r.i++;
    } else if (c === 0x29 || c === 0x7d || c === 0x5d) {
      if (closers.pop() !== c) return undefined;
      r.i++;
    } else if (c === DQ || c === SQ) {
      if (quoted(r, true) === undefined) return undefined;
    } else if (c === BACKTICK) {
      r.i += 2;
    } else r.i++;
  } while (closers.length > 0 && !r.done);
  return closers.length === 0 ? r.text.slice(start, r.i) : undefined;
}

function bare(r: Reader): string | undefined {
  const start = r.i;
  while (!r.done && !isBareStop(r.code())) r.i++;
  if (r.i === start) return undefined;
  const word = r.text.slice(start, r.i);
  return constants.get(word.toLowerCase()) ?? word;
}

function element(r: Reader): string | undefined {
  const c = r.code();
  if (c === DQ || c === SQ) return quoted(r, false);
  if (openers[c] !== undefined || (c === 0x40 && openers[r.code(1)] !== undefined)) return group(r);
  return bare(r);
}

/** One element or a comma-separated list of them; the reader stands on the first. */
function value(r: Reader): string | string[] | undefined {
  const first = element(r);
  if (first === undefined) return undefined;
  const items = [first];
  for (;;) {
    const before = r.i;
    r.skipSpaces();
    if (r.code() !== COMMA) {
      r.i = before; // only spaces were read: the next parameter starts after them
      break;
    }
    r.i++;
    r.skipSpaces();
    const next = element(r);
    if (next === undefined) return undefined;
    items.push(next);
  }
  return items.length === 1 ? first : items;
}

/**
 * The {Name, Value} pairs of PowerShell-form parameter text, in order (a repeated name gives repeated pairs), or
 * undefined when the text is not one or more well-formed parameters and nothing else.
 */
export function parsePowerShellParameters(text: string): PowerShellParameter[] | undefined {
  const r = new Reader(text);
  const out: PowerShellParameter[] = [];
  r.skipSpaces();
  while (!r.done) {
    if (!r.atParameterName()) return undefined;
    r.i++;
    const nameStart = r.i;
    while (!r.done && isNameChar(r.code())) r.i++;
    const name = text.slice(nameStart, r.i);
    let v: string | string[] | undefined;
    if (r.code() === 0x3a) {
      // -Name:value binds the value even when it looks like a parameter (-Days:-1)
      r.i++;
      v = value(r);
      if (v === undefined) return undefined;
    } else {
      const spaced = r.skipSpaces();
      if (r.done || r.atParameterName()) v = 'True';
      else if (!spaced) return undefined; // "-Name" glued to something that is not a name character
      else {
        v = value(r);
        if (v === undefined) return undefined;
      }
    }
    out.push({ Name: name, Value: v });
    r.skipSpaces();
    if (!r.done && !isSpace(text.charCodeAt(r.i - 1))) return undefined; // parameters are separated by spaces
  }
  return out.length > 0 ? out : undefined;
}
