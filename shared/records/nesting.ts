// JSON.parse takes a record nested 100,000 levels deep, but every recursive walk after it overflows the stack
// (JSON.stringify at ~5,000 levels on Node 22): the line, the JSON event, the dead letter. The decoder keeps any
// value deeper than maxNestingDepth as its JSON text, so every later walk over record data is bounded by it.
import { defineField } from './record-keys';

/** Container levels a record may have, the record itself being level 1; real records use fewer than 10. */
export const maxNestingDepth = 64;

type Plain = Record<string, unknown>;

/** Whether `value` nests more than `levels` containers (recursion bounded by `levels`). Runs on every record. */
export function nestsDeeperThan(value: unknown, levels: number): boolean {
  return value !== null && typeof value === 'object' && containerDeeperThan(value, levels);
}

// Scalars are tested inline rather than by a call per value: most of a record is scalars.
function containerDeeperThan(value: object, levels: number): boolean {
  if (levels <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner: unknown = value[i];
      if (inner !== null && typeof inner === 'object' && containerDeeperThan(inner, levels - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const inner = (value as Plain)[key];
    if (inner !== null && typeof inner === 'object' && containerDeeperThan(inner, levels - 1)) return true;
  }
  return false;
}

/**
 * `value` with every container below level `levels` replaced by its JSON text, each cut reported in `errors` with
 * its path. Copy on write: the value itself when nothing is cut, else copies along the paths to the cuts only.
 */
export function cutNesting(value: unknown, errors: string[], levels = maxNestingDepth): unknown {
  return cut(value, levels, [], errors);
}

function cut(value: unknown, levels: number, path: Array<string | number>, errors: string[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (levels <= 0) {
    errors.push(`${path.length > 0 ? path.join('.') : '(record)'}: nested deeper than ${maxNestingDepth} levels; kept as JSON text`);
    return jsonText(value);
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      const next = cut(value[i], levels - 1, path, errors);
      path.pop();
      if (next !== value[i]) (out ??= value.slice())[i] = next;
    }
    return out ?? value;
  }
  let out: Plain | undefined;
  for (const [key, inner] of Object.entries(value)) {
    path.push(key);
    const next = cut(inner, levels - 1, path, errors);
    path.pop();
    if (next !== inner) defineField((out ??= { ...(value as Plain) }), key, next);
  }
  return out ?? value;
}

type Pending = { text: string } | { value: unknown };

/**
 * JSON.stringify(value) for parsed JSON data (no toJSON, no cycles), without recursion: a value of any depth,
 * 100,000 levels included, is written with an explicit stack.
 */
export function jsonText(value: unknown): string {
  let out = '';
  const stack: Pending[] = [{ value }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if ('text' in item) {
      out += item.text;
      continue;
    }
    const v = item.value;
    if (v === null || typeof v !== 'object') {
      out += JSON.stringify(v) ?? 'null'; // scalars only; undefined and functions only reach here inside arrays
      continue;
    }
    // Pushed in reverse, so they come off the stack in order.
    if (Array.isArray(v)) {
      out += '[';
      stack.push({ text: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ value: v[i] });
        if (i > 0) stack.push({ text: ',' });
      }
      continue;
    }
    out += '{';
    stack.push({ text: '}' });
    const entries = Object.entries(v).filter(([, inner]) => inner !== undefined && typeof inner !== 'function' && typeof inner !== 'symbol');
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, inner] = entries[i]!;
      stack.push({ value: inner });
      stack.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(key)}:` });
    }
  }
  return out;
}
