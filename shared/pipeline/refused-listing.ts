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
  return hashedKeyPrefix + createHash('sha256').update(JSON.stringify(refused.raw) ?? 'undefined').digest('hex').slice(0, 40);
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
