// The structured, lossless form of a decoded record: one JSON object per record (NDJSON).
import { clientAddressText, parseClientAddress, type ClientAddress } from './client-address';
import type { DecodedRecord } from './decode';
import { highlightsOf, type Highlight } from './highlights';

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

const isoTime = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/** CreationTime carries no zone and is UTC; an explicit offset is converted. */
export function utcTime(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = isoTime.exec(value.trim());
  if (!m) return null;
  if (m[3] === undefined || m[3] === 'Z') return `${m[1]}${m[2] ?? ''}Z`;
  const date = new Date(value.trim());
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** JSON held in strings (ModifiedProperties values, alert Data, ExceptionInfo...) parsed, everywhere. */
function parseJsonText(value: unknown): unknown {
  if (typeof value === 'string') {
    const t = value.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      try {
        return parseJsonText(JSON.parse(t));
      } catch {
        return value;
      }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(parseJsonText);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = parseJsonText(v);
    return out;
  }
  return value;
}

/** {Name|Key, Value} pairs as an object; a repeated name keeps all its values in an array. */
function flattenPairs(list: unknown[], valueOf: (entry: Record<string, unknown>) => unknown): Record<string, unknown> | undefined {
  const grouped = new Map<string, unknown[]>();
  for (const entry of list) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return undefined;
    const e = entry as Record<string, unknown>;
    const name = typeof e.Name === 'string' ? e.Name : typeof e.Key === 'string' ? e.Key : undefined;
    if (name === undefined) return undefined;
    const value = parseJsonText(valueOf(e));
    const values = grouped.get(name);
    if (values) values.push(value);
    else grouped.set(name, [value]);
  }
  return Object.fromEntries([...grouped].map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
}

function flattenField(key: string, value: unknown): unknown {
  if (Array.isArray(value) && pairLists.has(key)) return flattenPairs(value, (e) => e.Value) ?? parseJsonText(value);
  if (Array.isArray(value) && key === 'ModifiedProperties' && value.some((v) => v !== null && typeof v === 'object')) {
    return flattenPairs(value, (e) => ({ new: e.NewValue, old: e.OldValue })) ?? parseJsonText(value);
  }
  return parseJsonText(value);
}

export function toAuditEvent(decoded: DecodedRecord, line: string): AuditEvent {
  const c = decoded.common;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(decoded.record)) {
    if (!topLevelFields.has(key)) fields[key] = flattenField(key, value);
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
