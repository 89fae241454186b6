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

interface Frame {
  readonly container: unknown[] | Plain;
  /** An object's keys; undefined for an array. */
  readonly keys: string[] | undefined;
  index: number;
  wrote: boolean;
}

const skippedInObjects = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

/**
 * JSON.stringify(value) for parsed JSON data (no toJSON, no cycles), without recursion: a value of any depth,
 * 100,000 levels included, is written with an explicit stack of open containers.
 */
export function jsonText(value: unknown): string {
  let out = '';
  const open: Frame[] = [];
  let next: unknown = value;
  for (;;) {
    if (next !== null && typeof next === 'object') {
      const isArray = Array.isArray(next);
      out += isArray ? '[' : '{';
      open.push({ container: next as unknown[] | Plain, keys: isArray ? undefined : Object.keys(next), index: 0, wrote: false });
    } else out += JSON.stringify(next) ?? 'null'; // undefined and functions reach here only inside arrays
    // Close what is finished and find the next value to write.
    for (;;) {
      const frame = open.at(-1);
      if (frame === undefined) return out;
      const { container, keys } = frame;
      if (keys === undefined) {
        const items = container as unknown[];
        if (frame.index < items.length) {
          if (frame.index > 0) out += ',';
          next = items[frame.index++];
          break;
        }
        out += ']';
      } else {
        let key: string | undefined;
        while (frame.index < keys.length && key === undefined) {
          const candidate = keys[frame.index++]!;
          if (!skippedInObjects((container as Plain)[candidate])) key = candidate;
        }
        if (key !== undefined) {
          out += `${frame.wrote ? ',' : ''}${JSON.stringify(key)}:`;
          frame.wrote = true;
          next = (container as Plain)[key];
          break;
        }
        out += '}';
      }
      open.pop();
    }
  }
}
