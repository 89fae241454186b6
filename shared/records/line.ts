// The readable line, the product's reference format (seed-vectors.json):
// {CreationTime} Azure Event Log: {Workload} {Operation}: {RecordTypeName}, User_type: {label},
// User_name: {UserId, spaces as _}, ClientIP: {first address field, address alone | no_ip}[, ClientPort: {port}],
// ResultStatus: {status} followed by the profile's own `Key: value` fields (an address field likewise followed by
// its port), then `Highlight: name (severity)` per security highlight. Values lose trailing CR/LF and spaces (real
// Exchange values end in \r\n); what is left is escaped. Lossy by design; the JSON event is the lossless form.
import { addressFieldNames, addressForLine, clientAddressText, portLabel } from './client-address';
import type { DecodedRecord } from './decode';
import { derivations } from './derived-values';
import { highlightsOf } from './highlights';
import { defaultMaxValueLength, escapeLineValue } from './escape';
import { compilePath, isPresent, type Accessor } from './paths';
import type { RecordProfile } from './profiles';

export interface LineOptions {
  /** Longer values are cut with a visible `…[+N chars]` marker. */
  maxValueLength?: number;
}

/** [label, reader, the label of its port when the field holds an address]. */
type CompiledField = readonly [label: string, read: Accessor, portLabel: string | undefined];
const compiled = new WeakMap<RecordProfile, readonly CompiledField[]>();

/** Whether every alternative of a path expression ends in an address field ('SenderIp', 'Item.UserIp|UserIp'). */
const isAddressPath = (source: string) => source.split('|').every((alt) => addressFieldNames.has(alt.slice(alt.lastIndexOf('.') + 1)));

function compiledFields(profile: RecordProfile): readonly CompiledField[] {
  let fields = compiled.get(profile);
  if (!fields) {
    fields = profile.fields.map(([label, source]): CompiledField => {
      if (!source.startsWith('=')) return [label, compilePath(source), isAddressPath(source) ? portLabel(label) : undefined];
      const derive = derivations[source.slice(1)];
      if (!derive) throw new Error(`profile ${profile.name}: unknown derivation ${source}`);
      return [label, (r) => derive(r as Record<string, unknown>), undefined];
    });
    compiled.set(profile, fields);
  }
  return fields;
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.join(', ');
  return JSON.stringify(value) ?? String(value);
}

const orWord = (value: unknown, word: string): string => (isPresent(value) ? valueText(value) : word);

export function formatLine(decoded: DecodedRecord, options: LineOptions = {}): string {
  const max = options.maxValueLength ?? defaultMaxValueLength;
  const esc = (s: string) => escapeLineValue(s.trimEnd(), max);
  const c = decoded.common;
  const user = isPresent(c.UserId) ? String(c.UserId).trimEnd().replaceAll(' ', '_') : 'no_user';
  const address = clientAddressText(decoded.record);
  const client = address === undefined ? { shown: 'no_ip', port: null } : addressForLine(address);
  let line =
    `${esc(orWord(c.CreationTime, 'no_time'))} Azure Event Log: ${esc(orWord(c.Workload, 'no_workload'))} ` +
    `${esc(orWord(c.Operation, 'no_operation'))}: ${esc(decoded.recordTypeName)}, User_type: ${decoded.userTypeLabel}, ` +
    `User_name: ${esc(user)}, ClientIP: ${esc(client.shown)}, ${client.port === null ? '' : `ClientPort: ${client.port}, `}` +
    `ResultStatus: ${esc(orWord(c.ResultStatus, 'no_status'))}`;
  for (const [label, read, portName] of compiledFields(decoded.profile)) {
    const value = read(decoded.record);
    if (!isPresent(value)) continue;
    if (portName !== undefined && typeof value === 'string') {
      const { shown, port } = addressForLine(value);
      line += `, ${label}: ${esc(shown)}${port === null ? '' : `, ${portName}: ${port}`}`;
    } else line += `, ${label}: ${esc(valueText(value))}`;
  }
  // Last, so every other field keeps its place; names and severities are our own constants (nothing to escape).
  for (const h of highlightsOf(decoded)) line += `, Highlight: ${h.name} (${h.severity})`;
  return line;
}
