// The structured, lossless form of a decoded record: one JSON object per record (NDJSON).
import { clientAddressText, parseClientAddress, type ClientAddress } from './client-address';
import type { DecodedRecord } from './decode';
import { highlightsOf, type Highlight } from './highlights';
import { maxNestingDepth, nestsDeeperThan } from './nesting';
import { defineField } from './record-keys';
import { apiTimeIso, parseApiTime } from '../api-time';

export interface AuditEvent {
  id: string | null;
  time: string | null;
  tenantId: string | null;
  workload: string | null;
  operation: string | null;
  recordType: { id: number | null; name: string };
  userType: { id: number | null; label: string };
  user: string | null;
  client: ClientAddress | null;
  result: string | null;
  fields: Record<string, unknown>;
  line: string;
  raw: unknown;
  schemaErrors?: string[];
  /** Security highlights (highlights.ts); present only when the record has some. */
  highlights?: Highlight[];
}

/** Fields shown at the top level of the event, so `fields` holds only the rest. */
const topLevelFields = new Set(['Id', 'CreationTime', 'OrganizationId', 'Workload', 'Operation', 'RecordType', 'UserType', 'UserId', 'ResultStatus']);
const pairLists = new Set(['Parameters', 'ExtendedProperties', 'DeviceProperties', 'OperationProperties', 'ExtraProperties']);

/** A CreationTime as written (no zone, or Z): the digits are kept, fractions of 7 digits included. */
const utcAsWritten = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?Z?$/;

/** CreationTime carries no zone and is UTC; an explicit offset is converted. Null when not an API time (api-time.ts). */
export function utcTime(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (parseApiTime(text) === undefined) return null;
  return utcAsWritten.test(text) ? (text.endsWith('Z') ? text : `${text}Z`) : apiTimeIso(text);
}

/**
 * JSON held in strings (ModifiedProperties values, alert Data, ExceptionInfo...) parsed, everywhere. `levels` is
 * what is left of maxNestingDepth where `value` sits: JSON text that would nest deeper stays text.
 */
function parseJsonText(value: unknown, levels: number): unknown {
  if (typeof value === 'string') {
    const t = value.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(t);
      } catch {
        return value;
      }
      return nestsDeeperThan(parsed, levels) ? value : parseJsonText(parsed, levels);
    }
    return value;
  }
  if (levels <= 0) return value; // decodeRecord cut deeper values already; this keeps the walk bounded regardless
  if (Array.isArray(value)) return value.map((v) => parseJsonText(v, levels - 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) defineField(out, k, parseJsonText(v, levels - 1));
    return out;
  }
  return value;
}

/** {Name|Key, Value} pairs as an object; a repeated name keeps all its values in an array. */
function flattenPairs(list: unknown[], valueOf: (entry: Record<string, unknown>) => unknown, levels: number): Record<string, unknown> | undefined {
  const grouped = new Map<string, unknown[]>();
  for (const entry of list) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
    const e = entry as Record<string, unknown>;
    const name = typeof e.Name === 'string' ? e.Name : typeof e.Key === 'string' ? e.Key : undefined;
    if (name === undefined) return undefined;
    const value = parseJsonText(valueOf(e), levels);
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  // fromEntries defines own properties: a parameter named __proto__ stays a field.
  return Object.fromEntries([...grouped].map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
}

// A record's field sits at level 2 (the record is level 1); a flattened pair's value at level 3, {new, old} at 4.
const fieldLevels = maxNestingDepth - 1;

function flattenField(key: string, value: unknown): unknown {
  if (Array.isArray(value) && pairLists.has(key)) return flattenPairs(value, (e) => e.Value, fieldLevels - 1) ?? parseJsonText(value, fieldLevels);
  if (Array.isArray(value) && key === 'ModifiedProperties' && value.some((v) => v !== null && typeof v === 'object')) {
    return flattenPairs(value, (e) => ({ new: e.NewValue, old: e.OldValue }), fieldLevels - 1) ?? parseJsonText(value, fieldLevels);
  }
  return parseJsonText(value, fieldLevels);
}

export function toAuditEvent(decoded: DecodedRecord, line: string): AuditEvent {
  const c = decoded.common;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(decoded.record)) {
    if (!topLevelFields.has(key)) defineField(fields, key, flattenField(key, value));
  }
  const address = clientAddressText(decoded.record);
  const event: AuditEvent = {
    id: c.Id ?? null,
    time: utcTime(c.CreationTime),
    tenantId: c.OrganizationId ?? null,
    workload: c.Workload ?? null,
    operation: c.Operation ?? null,
    recordType: { id: c.RecordType ?? null, name: decoded.recordTypeName },
    userType: { id: c.UserType ?? null, label: decoded.userTypeLabel },
    user: c.UserId ?? null,
    client: address === undefined ? null : parseClientAddress(address),
    result: c.ResultStatus ?? null,
    fields,
    line,
    raw: decoded.raw,
  };
  if (decoded.schemaErrors.length > 0) event.schemaErrors = [...decoded.schemaErrors];
  const highlights = highlightsOf(decoded);
  if (highlights.length > 0) event.highlights = highlights.map(({ name, severity }) => ({ name, severity }));
  return event;
}
