// The Log Analytics custom table the Sentinel sink writes (O365AuditRelay_CL), as data: one entry per column with
// its type and how its value is read from a decoded record. The sink builds rows from this table, and
// infra/sentinel-table.bicep declares the same columns (a test compares the two), so they cannot drift apart.
//
// Column rules (Log Analytics): names start with a letter, then letters, digits or underscores, at most 45
// characters, and not one of the workspace's own columns. `TenantId` is one of those (it holds the workspace
// id), so the Office 365 tenant goes to `OrganizationId`, the name the audit records use for it.
import type { DecodedRecord } from '../records/decode';
import { toAuditEvent, utcTime, type AuditEvent } from '../records/event-json';
import { formatLine, type LineOptions } from '../records/line';
import type { ContentRef } from './sink';

/** Types a DCR stream declaration and a custom table both accept (the table spells datetime `dateTime`). */
export type SentinelColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic';

export interface RowSource {
  decoded: DecodedRecord;
  event: AuditEvent;
  content: ContentRef;
}

export interface SentinelColumn {
  readonly name: string;
  readonly type: SentinelColumnType;
  readonly description: string;
  readonly value: (source: RowSource) => unknown;
}

/** The workspace's own columns: a custom table or a DCR stream must not declare them. */
export const reservedColumnNames: readonly string[] = [
  'TenantId', 'Type', 'Title', 'id', 'UniqueId', 'SourceSystem', 'MG', 'ManagementGroupName', 'Computer', 'RawData',
  '_ResourceId', '_SubscriptionId', '_ItemId', '_BilledSize', '_IsBillable', '_TimeReceived',
];

export const columnNamePattern = /^[A-Za-z][A-Za-z0-9_]{0,44}$/;

export const defaultTableName = 'O365AuditRelay_CL';
export const defaultStreamName = `Custom-${defaultTableName}`;

export const sentinelColumns: readonly SentinelColumn[] = [
  {
    name: 'TimeGenerated',
    type: 'datetime',
    description: 'CreationTime of the record (UTC); the content blob time when the record has none',
    value: ({ event, content }) => event.time ?? utcTime(content.contentCreated) ?? content.contentCreated,
  },
  { name: 'CreationTime', type: 'datetime', description: 'CreationTime as the record gives it, converted to UTC', value: ({ event }) => event.time },
  { name: 'RecordId', type: 'string', description: 'The record Id (unique per record; duplicates share it)', value: ({ event }) => event.id },
  { name: 'OrganizationId', type: 'string', description: 'The Office 365 tenant of the record', value: ({ event, content }) => event.tenantId ?? content.tenantId },
  { name: 'ContentType', type: 'string', description: 'Management Activity API content type', value: ({ content }) => content.contentType },
  { name: 'ContentId', type: 'string', description: 'The content blob the record came in', value: ({ content }) => content.contentId },
  { name: 'Workload', type: 'string', description: 'Workload (Exchange, SharePoint, AzureActiveDirectory, ...)', value: ({ event }) => event.workload },
  { name: 'Operation', type: 'string', description: 'Operation name', value: ({ event }) => event.operation },
  { name: 'RecordType', type: 'int', description: 'RecordType number', value: ({ event }) => event.recordType.id },
  { name: 'RecordTypeName', type: 'string', description: 'RecordType name', value: ({ event }) => event.recordType.name },
  { name: 'UserType', type: 'int', description: 'UserType number', value: ({ event }) => event.userType.id },
  { name: 'UserTypeName', type: 'string', description: 'UserType label', value: ({ event }) => event.userType.label },
  { name: 'UserId', type: 'string', description: 'UserId', value: ({ event }) => event.user },
  {
    name: 'ClientIP',
    type: 'string',
    description: 'Client address without port (as written when it is not an address)',
    value: ({ event }) => event.client?.ip ?? event.client?.raw ?? null,
  },
  { name: 'ResultStatus', type: 'string', description: 'ResultStatus', value: ({ event }) => event.result },
  { name: 'Line', type: 'string', description: 'The readable one-line form of the record', value: ({ event }) => event.line },
  { name: 'Fields', type: 'dynamic', description: 'The other fields of the record, name/value lists flattened', value: ({ event }) => event.fields },
  { name: 'Raw', type: 'dynamic', description: 'The record exactly as received', value: ({ event }) => event.raw },
  { name: 'SchemaErrors', type: 'dynamic', description: 'Fields that did not fit their schema (absent when none)', value: ({ event }) => event.schemaErrors ?? null },
  { name: 'Truncated', type: 'dynamic', description: 'Columns left out or shortened to fit the field size limit', value: () => null },
];

export type SentinelRow = Record<string, unknown>;

export interface RowOptions {
  line?: LineOptions;
  /** Largest field value in UTF-8 bytes (string or dynamic JSON); Log Analytics truncates longer ones. */
  maxFieldBytes: number;
}

/**
 * One table row for one record. A value over the field limit would be cut by the service (a cut dynamic value
 * is no longer JSON), so it is handled here: Raw and then Fields are left out, a long Line is shortened, and
 * `Truncated` names what was done; the full record stays in the blob sink.
 */
export function toSentinelRow(decoded: DecodedRecord, content: ContentRef, options: RowOptions): SentinelRow {
  const event = toAuditEvent(decoded, formatLine(decoded, options.line ?? {}));
  const source: RowSource = { decoded, event, content };
  const row: SentinelRow = {};
  const truncated: string[] = [];
  for (const column of sentinelColumns) {
    let value = column.value(source);
    if (value === null || value === undefined) continue; // an absent column is null in the table
    const size = Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
    if (size > options.maxFieldBytes) {
      if (column.type === 'string' && typeof value === 'string') value = shorten(value, options.maxFieldBytes);
      else value = undefined;
      truncated.push(column.name);
    }
    if (value !== undefined) row[column.name] = value;
  }
  if (truncated.length > 0) row.Truncated = truncated;
  return row;
}

/** The longest prefix of `text` (whole code points) that fits `maxBytes` with a trailing ellipsis. */
function shorten(text: string, maxBytes: number): string {
  const ellipsis = '…';
  const budget = maxBytes - Buffer.byteLength(ellipsis, 'utf8');
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > budget) break;
    bytes += n;
    end += ch.length;
  }
  return text.slice(0, end) + ellipsis;
}
