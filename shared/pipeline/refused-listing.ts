// What the ledger and the dead letter keep of a refused listed item, as pure functions. The key is the item's own
// contentId when it has a readable one, else a hash of its raw JSON: either way the overlap, listing the same
// item again, finds the same key and makes no second record.
import { createHash } from 'node:crypto';
import { parseApiTime } from '../api-time';
import type { ContentType } from '../api/content-types';
import type { RefusedItem } from '../api/listed-item';
import type { RefusedEntry } from './ledger';

/** Prefix of keys made from raw JSON; `-` and hex are in the contentId alphabet, so the key is safe everywhere. */
export const hashedKeyPrefix = 'refused-';

export function refusalKey(refused: Pick<RefusedItem, 'contentId' | 'raw'>): string {
  if (refused.contentId !== undefined) return refused.contentId;
  return hashedKeyPrefix + createHash('sha256').update(jsonText(refused.raw)).digest('hex').slice(0, 40);
}

/**
 * What the dead letter keeps of a refused item: the value itself, or its JSON text when it is nested too deep for
 * JSON.stringify (a 5,000-deep item overflows the stack; the dead letter stores values with JSON.stringify).
 */
export function storableRaw(raw: unknown): { record: unknown; asText: boolean } {
  try {
    JSON.stringify(raw);
    return { record: raw, asText: false };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return { record: jsonText(raw), asText: true };
  }
}

type Task = { kind: 'text'; text: string } | { kind: 'value'; value: unknown };

/** JSON text of a parsed JSON value, at any depth: JSON.stringify, or an explicit stack when it overflows. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
  }
  const out: string[] = [];
  const tasks: Task[] = [{ kind: 'value', value }];
  const text = (t: string): Task => ({ kind: 'text', text: t });
  for (let task = tasks.pop(); task !== undefined; task = tasks.pop()) {
    if (task.kind === 'text') {
      out.push(task.text);
      continue;
    }
    const v = task.value;
    if (v === null || typeof v !== 'object') {
      out.push(JSON.stringify(v) ?? 'null');
      continue;
    }
    const entries: Array<[string | undefined, unknown]> = Array.isArray(v) ? v.map((x): [undefined, unknown] => [undefined, x]) : Object.entries(v);
    const next: Task[] = [text(Array.isArray(v) ? '[' : '{')];
    entries.forEach(([key, x], i) => {
      if (i > 0) next.push(text(','));
      if (key !== undefined) next.push(text(`${JSON.stringify(key)}:`));
      next.push({ kind: 'value', value: x });
    });
    next.push(text(Array.isArray(v) ? ']' : '}'));
    for (let i = next.length - 1; i >= 0; i--) tasks.push(next[i]!);
  }
  return out.join('');
}

/** The item's own time field when it is an API time, else '' (the entry then counts its age from first sight). */
function apiTimeField(raw: unknown, field: 'contentCreated' | 'contentExpiration'): string {
  if (raw === null || typeof raw !== 'object') return '';
  const value = (raw as Record<string, unknown>)[field];
  return typeof value === 'string' && parseApiTime(value) !== undefined ? value : '';
}

export function refusedEntry(tenantId: string, contentType: ContentType, refused: RefusedItem): RefusedEntry {
  return {
    tenantId,
    contentType,
    contentId: refusalKey(refused),
    contentCreated: apiTimeField(refused.raw, 'contentCreated'),
    contentExpiration: apiTimeField(refused.raw, 'contentExpiration'),
    reason: refused.reason,
  };
}
