// The catalogue of odd items the blast-radius suite puts among good ones, per stage of the data path. Each entry
// names the kind, so a failure says which odd item cost more than itself.

/** JSON text of a value nested `depth` levels deep, written directly (JSON.stringify overflows at ~5,000). */
export function nestedText(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export interface OddListingItem {
  kind: string;
  /** The raw listing item (JSON text, so nesting deeper than JSON.stringify can go still fits). */
  text: string;
}

/** Odd listing items for one content type, built from a good item's shape (what the API lists). */
export function oddListingItems(good: { contentType: string; contentId: string; contentUri: string; contentCreated: string; contentExpiration: string }, otherTenant: string): OddListingItem[] {
  const item = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
  const uri = good.contentUri;
  return [
    { kind: 'null', text: 'null' },
    { kind: 'bare number', text: '42' },
    { kind: '5,000-deep nesting', text: nestedText(5000) },
    { kind: 'missing contentUri', text: JSON.stringify({ ...good, contentUri: undefined }) },
    { kind: 'contentId of the wrong type', text: item({ contentId: 17 }) },
    { kind: 'bad time', text: item({ contentCreated: '1 2 3' }) },
    { kind: 'impossible date', text: item({ contentExpiration: '2024-02-30T00:00:00Z' }) },
    { kind: 'another contentType', text: item({ contentType: 'Audit.SharePoint' }) },
    { kind: 'prototype name as contentType', text: item({ contentType: '__proto__' }) },
    { kind: 'foreign host', text: item({ contentUri: uri.replace(/^https:\/\/[^/]+/, 'https://evil.example') }) },
    { kind: 'another tenant', text: item({ contentUri: uri.replace(/\/api\/v1\.0\/[^/]+\//, `/api/v1.0/${otherTenant}/`) }) },
    { kind: 'contentUri naming another contentId', text: item({ contentUri: `${uri}x` }) },
  ];
}

export interface OddNotification {
  kind: string;
  /** The item's JSON text (so nesting deeper than JSON.stringify can go fits). */
  text: string;
}

/** Odd notification items, built from a good one (whose contentId the API never published). */
export function oddNotifications(good: Record<string, string>, otherTenant: string): OddNotification[] {
  const item = (kind: string, patch: Record<string, unknown>) => ({ kind, text: JSON.stringify({ ...good, ...patch }) });
  return [
    { kind: 'null', text: 'null' },
    { kind: 'bare number', text: '7' },
    item('prototype name as tenantId', { tenantId: '__proto__' }),
    item('prototype name as contentType', { contentType: 'constructor' }),
    { kind: '5,000-deep nesting in a field', text: JSON.stringify({ ...good, contentCreated: 0 }).replace('"contentCreated":0', `"contentCreated":${nestedText(5000)}`) },
    item('foreign host', { contentUri: good.contentUri!.replace(/^https:\/\/[^/]+/, 'https://evil.example') }),
    item('another tenant', { tenantId: otherTenant, contentUri: good.contentUri!.replace(good.tenantId!, otherTenant) }),
    item('bad time', { contentExpiration: 'March 7, 2024' }),
    item('contentType its contentId does not name', { contentType: 'Audit.SharePoint' }),
    item('wrong clientId', { clientId: '00000000-0000-0000-0000-000000000000' }),
  ];
}

export interface OddElement {
  kind: string;
  /** The element's JSON text as it stands in the blob's array. */
  text: string;
}

/** Elements of a content blob that are not records. `overCapBytes` makes one bigger than the record size cap. */
export function oddElements(overCapBytes: number): OddElement[] {
  return [
    { kind: 'bare number', text: '42' },
    { kind: 'null', text: 'null' },
    { kind: 'a string', text: '"not a record"' },
    { kind: 'NaN literal inside a record', text: '{"Id":"nan-record","RecordType":NaN}' },
    { kind: 'malformed record', text: '{"Id": "broken", "Operation": }' },
    { kind: 'an array', text: '[1,2,3]' },
    { kind: 'record over the size cap', text: `{"Id":"huge","Blob":"${'x'.repeat(overCapBytes)}"}` },
  ];
}

export interface OddRecord {
  kind: string;
  /** The record's Id: it is a record to deliver (it carries the tenant's OrganizationId). */
  id: string;
  text: string;
}

/** Records with odd values: still records, so they are delivered (decoding is total), flagged where due. */
export function oddRecords(base: Record<string, unknown>, tag: string): OddRecord[] {
  const make = (kind: string, patch: Record<string, unknown>, raw?: { field: string; text: string }): OddRecord => {
    const id = `odd-${kind.replace(/\W+/g, '-')}-${tag}`;
    const json = JSON.stringify({ ...base, ...patch, ...(raw ? { [raw.field]: 0 } : {}), Id: id });
    return { kind, id, text: raw ? json.replace(`"${raw.field}":0`, `"${raw.field}":${raw.text}`) : json };
  };
  return [
    make('Workload constructor', { Workload: 'constructor' }),
    make('Operation __proto__', { Operation: '__proto__' }),
    make('RecordType toString', { RecordType: 'toString', UserType: 'valueOf' }),
    make('a __proto__ key', {}, { field: 'Extra', text: '{"__proto__":{"polluted":true},"hasOwnProperty":1}' }),
    make('5,000-deep value', {}, { field: 'Deep', text: nestedText(5000) }),
    make('100,000-deep value', {}, { field: 'Deeper', text: nestedText(100_000) }),
    make('wrong types', { RecordType: {}, UserType: [1], ClientIP: 17, ResultStatus: null }),
    make('bad time', { CreationTime: '2024-02-30T17:08:65' }),
    make('huge value', { Huge: 'y'.repeat(1_000_000) }),
  ];
}
