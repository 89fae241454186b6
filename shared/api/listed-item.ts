// One item of a listing page (/subscriptions/content or /notifications), judged on its own: a page is parsed item
// by item, so one odd item (null, a number, a missing field, a bad time, another content type, a contentUri on
// another origin or tenant or naming another contentId) costs only itself. Such an item is refused, never
// fetched, and handed on with its reason and raw JSON so the caller can record it; the page's other items go on.
import { z } from 'zod';
import { contentTypeNamedBy, type ContentType } from './content-types.js';
import { checkContentId, contentIdFromUri } from './feed-url.js';
import type { ContentItem, NotificationItem } from './schemas.js';

/** Where an item stood in the listing (both from 0), for people reading a report. */
export interface ListingPosition {
  page: number;
  index: number;
}

export interface RefusedItem {
  reason: string;
  /** The item as the API sent it (parsed JSON). */
  raw: unknown;
  /** The item's contentId when it has a readable one (the API's alphabet), else undefined. */
  contentId: string | undefined;
  position: ListingPosition;
}

export type Listed<T> = { kind: 'item'; item: T; position: ListingPosition } | { kind: 'refused'; refused: RefusedItem };

export interface ListingExpectation {
  apiOrigin: string;
  tenantId: string;
  contentType: ContentType;
}

/** The item's own contentId when it is a string in the API's alphabet (usable as a key, safe to print). */
export function readableContentId(raw: unknown): string | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const id = (raw as { contentId?: unknown }).contentId;
  return typeof id === 'string' && checkContentId(id).ok ? id : undefined;
}

/** What is wrong with a shape, named by its fields (never their values: those may be anything). */
function shapeReason(error: z.ZodError): string {
  const fields = [...new Set(error.issues.map((i) => i.path.map(String).join('.') || 'the item'))];
  return `missing or unreadable ${fields.join(', ')}`;
}

/** Pure: the verdict on one raw listing item. */
export function classifyListedItem<S extends typeof ContentItem | typeof NotificationItem>(
  schema: S,
  raw: unknown,
  expected: ListingExpectation,
  position: ListingPosition,
): Listed<z.infer<S>> {
  const refuse = (reason: string): Listed<z.infer<S>> => ({ kind: 'refused', refused: { reason, raw, contentId: readableContentId(raw), position } });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return refuse(`not an object (${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw})`);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return refuse(shapeReason(parsed.error));
  const item = parsed.data as z.infer<S>;
  if (item.contentType !== expected.contentType) return refuse(`another contentType than the listed ${expected.contentType}`);
  const checked = contentIdFromUri(item.contentUri, expected.apiOrigin, expected.tenantId);
  if (!checked.ok) return refuse(`contentUri ${checked.reason}`);
  if (checked.contentId !== item.contentId) return refuse('contentUri names another contentId than the item');
  const named = contentTypeNamedBy(item.contentId);
  if (named !== undefined && named !== item.contentType) return refuse(`contentUri names ${named}, not the item's ${item.contentType}`);
  return { kind: 'item', item, position };
}

/** One line for people: where the item stood, its contentId when readable, and why it was refused (never its raw text). */
export function describeRefused(refused: RefusedItem): string {
  const id = refused.contentId === undefined ? '' : ` (contentId ${refused.contentId})`;
  return `listed item ${refused.position.index + 1} of page ${refused.position.page + 1}${id} refused, not fetched: ${refused.reason}`;
}
