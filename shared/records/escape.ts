// Makes any value safe for the one-line format: one record is always exactly one line, and nothing in a
// value can move the cursor, recolour a terminal or reorder text in a viewer.

export const defaultMaxValueLength = 2048;

// C0/C1 controls and DEL, ESC's ANSI sequences, bidi controls, line/paragraph separators, surrogates.
const needsEscape = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;
const named: Readonly<Record<number, string>> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

const hex = (code: number, width: number) => code.toString(16).toUpperCase().padStart(width, '0');

function escapeChars(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += value[i]! + value[i + 1]!; // a whole surrogate pair is an ordinary character (emoji)
        i++;
        continue;
      }
    }
    if (named[code] !== undefined) out += named[code];
    else if (code === 0x1b) out += '\\u{001B}'; // ESC starts ANSI/OSC sequences
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) out += `\\x${hex(code, 2)}`;
    else if ((code >= 0x2028 && code <= 0x2029) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || (code >= 0xd800 && code <= 0xdfff)) {
      out += `\\u{${hex(code, 4)}}`; // bidi controls, line separators and lone surrogates
    } else out += value[i];
  }
  return out;
}

/** Cuts `value` at `max` characters (never inside a surrogate pair) with a visible marker. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${value.slice(0, end)}…[+${value.length - end} chars]`;
}

export function escapeLineValue(value: string, max = defaultMaxValueLength): string {
  const cut = truncate(value, max);
  return needsEscape.test(cut) ? escapeChars(cut) : cut;
}
