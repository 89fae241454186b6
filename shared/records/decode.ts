// decodeRecord: lenient and total. Whatever arrives becomes a DecodedRecord: fields that fail their schema
// are reported in schemaErrors and left out of the typed view, everything else (unknown fields included)
// is kept, and numbers or booleans sent as strings are coerced. A record is never dropped for being odd.
// Values nested deeper than maxNestingDepth are kept as their JSON text (nesting.ts), in `raw` too, so that
// nothing after the decoder (line, JSON event, dead letter) walks a record deeper than that.
import type { z } from 'zod';
import { parseApiTime } from '../api-time';
import { recordTypeName, userTypeLabel } from './enums';
import { profileFor, type RecordProfile } from './profiles';
import { compileConformance } from './conformance';
import { cutNesting, maxNestingDepth, nestsDeeperThan } from './nesting';
import { defineField } from './record-keys';
import { AuditRecord, familySchemas, type RecordFamily } from './schemas';

export interface DecodedRecord {
  /** The record as received (values nested deeper than maxNestingDepth replaced by their JSON text). */
  readonly raw: unknown;
  /** The record with coerced values; fields that failed their schema are absent. */
  readonly record: Readonly<Record<string, unknown>>;
  readonly common: AuditRecord;
  readonly profile: RecordProfile;
  readonly recordTypeName: string;
  readonly userTypeLabel: string;
  readonly schemaErrors: readonly string[];
}

type Plain = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Plain => v !== null && typeof v === 'object' && !Array.isArray(v);

function issueText(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(record)';
  return `${where}: ${issue.message}`;
}

/** Parses with `schema`; on failure drops the top-level fields that failed and parses the rest. */
function parseLenient<S extends z.ZodType<Plain>>(schema: S, value: Plain, errors: string[]): z.infer<S> {
  const first = schema.safeParse(value);
  if (first.success) return withProtoFields(first.data, value);
  const bad = new Set<string>();
  for (const issue of first.error.issues) {
    errors.push(issueText(issue));
    if (issue.path.length > 0) bad.add(String(issue.path[0]));
  }
  const rest: Plain = {};
  for (const [key, v] of Object.entries(value)) if (!bad.has(key)) defineField(rest, key, v);
  const second = schema.safeParse(rest);
  // Every field of our schemas is optional, so the second parse only fails on a schema bug; keep the data anyway.
  return second.success ? withProtoFields(second.data, rest) : (rest as z.infer<S>);
}

/**
 * zod leaves out every own `__proto__` key of the objects it copies (it cannot tell it from the prototype); such a
 * field is data, so it is put back. Walks only what zod copied, bounded by the nesting cap.
 */
function withProtoFields<T extends Plain>(parsed: T, input: Plain): T {
  keepProtoFields(parsed, input, maxNestingDepth);
  return parsed;
}

function keepProtoFields(parsed: unknown, input: unknown, levels: number): void {
  if (parsed === input || levels <= 0 || parsed === null || typeof parsed !== 'object' || input === null || typeof input !== 'object') return;
  if (Array.isArray(parsed)) {
    if (Array.isArray(input)) for (let i = 0; i < parsed.length; i++) keepProtoFields(parsed[i], input[i], levels - 1);
    return;
  }
  const from = input as Plain;
  const to = parsed as Plain;
  if (Object.hasOwn(from, '__proto__') && !Object.hasOwn(to, '__proto__')) defineField(to, '__proto__', from['__proto__']);
  for (const key of Object.keys(to)) if (key !== '__proto__') keepProtoFields(to[key], from[key], levels - 1);
}

const commonFits = compileConformance(AuditRecord);
const commonKeys = Object.keys(AuditRecord.shape) as Array<keyof AuditRecord>;
const familyFits = Object.fromEntries(
  Object.entries(familySchemas).map(([family, schema]) => [family, compileConformance(schema)]),
) as Record<RecordFamily, (value: unknown) => boolean>;

export function decodeRecord(received: unknown): DecodedRecord {
  const schemaErrors: string[] = [];
  const raw = nestsDeeperThan(received, maxNestingDepth) ? cutNesting(received, schemaErrors) : received;
  let source: Plain;
  if (isPlainObject(raw)) source = raw;
  else {
    schemaErrors.push(`(record): expected a JSON object, received ${Array.isArray(raw) ? 'array' : raw === null ? 'null' : typeof raw}`);
    source = {};
  }
  // Records that already fit are used as they are (no copy); zod coerces and explains the rest.
  const common: AuditRecord = commonFits(source) ? source : parseLenient(AuditRecord, source, schemaErrors);
  if (typeof common.CreationTime === 'string' && parseApiTime(common.CreationTime.trim()) === undefined) {
    schemaErrors.push('CreationTime: not an ISO 8601 date-time'); // kept as written for the line; the event's time is null
  }
  const profile = profileFor(common.RecordType ?? undefined, common.Workload ?? undefined);
  let record: Plain = common;
  if (!familyFits[profile.family](source)) {
    record = parseLenient(familySchemas[profile.family] as z.ZodType<Plain>, source, schemaErrors);
    for (const key of commonKeys) {
      if (common[key] === undefined) delete record[key];
      else record[key] = common[key];
    }
  }
  return {
    raw,
    record,
    common,
    profile,
    recordTypeName: recordTypeName(common.RecordType ?? undefined),
    userTypeLabel: userTypeLabel(common.UserType ?? undefined),
    schemaErrors,
  };
}
