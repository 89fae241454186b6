// The URL guard. Our bearer token only ever travels to URLs we build from our own endpoint table, the tenant and
// a checked contentId. A contentUri or NextPageUri received from outside is compared, as a raw string, with the
// expected form and refused otherwise: no URL parser gets the chance to normalise a trick (`@`, `%2F`, `\`,
// trailing dots, `:443`, case) into something that looks right.
//
// Decision on the doc's `/api/v1/` spelling (reference §2.4 example): accepted as an alias of `/api/v1.0/` on the
// same origin and tenant; the next request is rebuilt on `/api/v1.0/` with the received query (so `nextPage` is
// kept). A contentUri may also spell its fixed path segments in another case (`/Activity/Feed/Audit/`): only the
// contentId is taken from it and the fetched URL is rebuilt from our table, so such a variant is harmless. The
// origin, tenant and contentId are never compared loosely.
import { apiError, type ManagementApiError } from './errors.js';

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return guid.test(value);
}

/**
 * Allowed contentId characters. Real ids are digits, letters, `$`, `_` (reference §2.8); `-` and `.` are allowed
 * for safety (never `..`). Anything that could change the path or query (`/`, `\`, `%`, `?`, `#`, `&`, `;`,
 * whitespace, control or non-ASCII characters) is refused.
 */
const contentIdAlphabet = /^[A-Za-z0-9$_.\-]{1,512}$/;

export function checkContentId(contentId: string): { ok: true } | { ok: false; reason: string } {
  if (!contentIdAlphabet.test(contentId)) {
    return { ok: false, reason: 'contains characters outside A-Z a-z 0-9 $ _ . - (or is empty or too long)' };
  }
  if (contentId.includes('..')) return { ok: false, reason: 'contains ".."' };
  if (contentId.startsWith('.')) return { ok: false, reason: 'starts with "."' };
  return { ok: true };
}

/** `${origin}/api/v1.0/${tenant}/activity/feed` — the tenant is lower-cased so comparisons are exact. */
export function feedRoot(apiOrigin: string, tenantId: string): string {
  if (!isGuid(tenantId)) throw refused(`tenant id is not a GUID`);
  return `${apiOrigin}/api/v1.0/${tenantId.toLowerCase()}/activity/feed`;
}

/** Builds the URL of a content blob from our own table, never from a received URI. */
export function contentUrl(apiOrigin: string, tenantId: string, contentId: string): string {
  const checked = checkContentId(contentId);
  if (!checked.ok) throw refused(`contentId ${checked.reason}`, tenantId);
  return `${feedRoot(apiOrigin, tenantId)}/audit/${contentId}`;
}

function refused(detail: string, tenantId?: string): ManagementApiError {
  return apiError('URL_REFUSED', { detail, tenantId });
}

/** Splits a raw string into its part before `?` and the query; a `#` anywhere is refused. */
function splitQuery(raw: string): { head: string; query: string } | undefined {
  if (raw.includes('#')) return undefined;
  const q = raw.indexOf('?');
  return q < 0 ? { head: raw, query: '' } : { head: raw.slice(0, q), query: raw.slice(q + 1) };
}

/** Characters that never appear in a URL the API hands out and that parsers treat specially. */
const hostile = /[\\\s\u0000-\u001f\u007f-\uffff@]/;

function tenantMatches(candidate: string, tenantId: string): boolean {
  return isGuid(candidate) && candidate.toLowerCase() === tenantId.toLowerCase();
}

/** The API version segment as the API spells it, and the doc's shorter spelling. */
const apiVersions: readonly string[] = ['v1.0', 'v1'];

/**
 * Checks a received contentUri (from a notification or a listing) and returns its contentId.
 * Accepted form, compared as text: `${apiOrigin}/api/v1.0/${tenantId}/activity/feed/audit/${contentId}`,
 * optionally followed by `?PublisherIdentifier=<guid>`; `v1` for `v1.0` and the case of the fixed path segments
 * may vary. The tenant must be the one the item is for.
 */
export function contentIdFromUri(
  raw: string,
  apiOrigin: string,
  tenantId: string,
): { ok: true; contentId: string } | { ok: false; reason: string } {
  if (hostile.test(raw)) return { ok: false, reason: 'contains characters a feed URL never has' };
  const parts = splitQuery(raw);
  if (!parts) return { ok: false, reason: 'has a fragment' };
  if (parts.query !== '' && !/^PublisherIdentifier=[0-9a-fA-F-]{36}$/.test(parts.query)) {
    return { ok: false, reason: 'has an unexpected query' };
  }
  if (!parts.head.startsWith(`${apiOrigin}/`)) return { ok: false, reason: 'is not on the API origin' };
  const segments = parts.head.slice(apiOrigin.length + 1).split('/');
  if (segments.length !== 7) return { ok: false, reason: 'does not have the path of a content blob' };
  const [api, version, tenant, activity, feed, audit, contentId] = segments as [string, string, string, string, string, string, string];
  if (api.toLowerCase() !== 'api' || !apiVersions.includes(version.toLowerCase())) return { ok: false, reason: 'is not under /api/v1.0/' };
  if (!tenantMatches(tenant, tenantId)) return { ok: false, reason: 'names another tenant' };
  if ([activity, feed, audit].map((s) => s.toLowerCase()).join('/') !== 'activity/feed/audit') {
    return { ok: false, reason: 'does not have the path of a content blob' };
  }
  const checked = checkContentId(contentId);
  if (!checked.ok) return { ok: false, reason: `contentId ${checked.reason}` };
  return { ok: true, contentId };
}

export type ListingOperation = 'content' | 'notifications';

/**
 * Checks a received NextPageUri for a listing of `operation` and returns the URL to request next, rebuilt on our
 * origin and `/api/v1.0/` with the received query (PublisherIdentifier is set by the caller).
 */
export function nextPageUrl(
  raw: string,
  apiOrigin: string,
  tenantId: string,
  operation: ListingOperation,
): { ok: true; url: URL } | { ok: false; reason: string } {
  if (hostile.test(raw)) return { ok: false, reason: 'contains characters a feed URL never has' };
  const parts = splitQuery(raw);
  if (!parts) return { ok: false, reason: 'has a fragment' };
  let rest: string | undefined;
  for (const version of apiVersions) {
    const prefix = `${apiOrigin}/api/${version}/`;
    if (parts.head.startsWith(prefix)) rest = parts.head.slice(prefix.length);
  }
  if (rest === undefined) return { ok: false, reason: 'is not on the API origin under /api/v1.0/' };
  const segments = rest.split('/');
  const [tenant, ...path] = segments as [string, ...string[]];
  if (!tenantMatches(tenant, tenantId)) return { ok: false, reason: 'names another tenant' };
  if (path.join('/') !== `activity/feed/subscriptions/${operation}`) {
    return { ok: false, reason: `is not a page of subscriptions/${operation}` };
  }
  const query = new URLSearchParams(parts.query);
  if (!query.get('nextPage')) return { ok: false, reason: 'has no nextPage value' };
  const url = new URL(`${feedRoot(apiOrigin, tenantId)}/subscriptions/${operation}`);
  for (const [key, value] of query) url.searchParams.append(key, value);
  return { ok: true, url };
}

/** Last line of defence in the HTTP layer: a token-bearing request must go to exactly our API origin. */
export function sameOrigin(url: URL, apiOrigin: string): boolean {
  return url.origin === apiOrigin && url.protocol === 'https:' && url.username === '' && url.password === '';
}
