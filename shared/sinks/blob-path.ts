// Where a content blob's records land in the container: {tenantId}/{contentType}/{yyyy}/{MM}/{dd}/{HH}/{contentId}.{ext}
// (hour of contentCreated, UTC, read by the one API-time parser). Every part is checked, not escaped: a name that
// could change the path (`/`, `\`, `..`, control characters) is refused, so the layout is exactly what operators
// and readers expect. A contentCreated that is not an API time never makes a blob wait: its records land under
// `undated/` instead of an hour (deterministic, so a retry still finds the blob it wrote).
import { parseApiTime } from '../api-time';
import { ContentType } from '../api/content-types';
import type { ContentRef } from './sink';

/** The API's contentId alphabet (digits, letters, `$`, `_`, `-`, `.`): nothing that means anything in a path. */
const safeContentId = /^[A-Za-z0-9$_.-]{1,512}$/;
const tenantGuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type BlobFormat = 'line' | 'json';
export const extensions: Record<BlobFormat, string> = { line: 'log', json: 'ndjson' };

export type BlobNameResult = { ok: true; name: string } | { ok: false; reason: string };

export function contentBlobName(content: ContentRef, format: BlobFormat): BlobNameResult {
  const { tenantId, contentType, contentId } = content;
  if (!tenantGuid.test(tenantId)) return { ok: false, reason: 'the tenantId is not a lowercase GUID' };
  if (!ContentType.safeParse(contentType).success) return { ok: false, reason: 'the contentType is not one of the API\'s five' };
  if (!safeContentId.test(contentId) || contentId.includes('..') || contentId.startsWith('.')) {
    return { ok: false, reason: `the contentId ${JSON.stringify(contentId.slice(0, 80))} is not safe in a blob name` };
  }
  return { ok: true, name: `${tenantId}/${contentType}/${hourFolder(content.contentCreated)}/${contentId}.${extensions[format]}` };
}

export const undatedFolder = 'undated';

function hourFolder(contentCreated: string): string {
  const at = parseApiTime(contentCreated);
  if (at === undefined) return undatedFolder;
  const iso = new Date(at).toISOString(); // yyyy-MM-ddTHH:... (years 0-9999, as the parser reads four digits)
  return `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}`;
}
