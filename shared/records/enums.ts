// Enum lookups over the tables copied from the reference (scripts/refresh-enums.js); the tables are data, read
// into Maps so that no value a record carries can reach an inherited property.
import tables from './enum-tables.json';

const byNumber = (table: Readonly<Record<string, string>>): ReadonlyMap<number, string> =>
  new Map(Object.entries(table).map(([value, name]) => [Number(value), name]));

const recordTypeNames = byNumber(tables.recordType);
const userTypeLabels = byNumber(tables.userTypeLabel);
const logonTypeNames = byNumber(tables.logonType);

const recordTypeByLowerName = new Map<string, number>();
for (const [value, name] of recordTypeNames) recordTypeByLowerName.set(name.toLowerCase(), value);
for (const [alias, value] of Object.entries(tables.recordTypeAliases)) {
  if (!recordTypeByLowerName.has(alias.toLowerCase())) recordTypeByLowerName.set(alias.toLowerCase(), value);
}

export function recordTypeName(value: number | undefined): string {
  if (value === undefined) return 'RecordType_none';
  return recordTypeNames.get(value) ?? `RecordType_${value}`;
}

/** A RecordType given by name (case-insensitive, aliases included) or number; undefined when unknown. */
export function recordTypeValue(nameOrNumber: string | number): number | undefined {
  if (typeof nameOrNumber === 'number') return Number.isInteger(nameOrNumber) ? nameOrNumber : undefined;
  const text = nameOrNumber.trim();
  if (/^-?\d+$/.test(text)) return Number(text);
  return recordTypeByLowerName.get(text.toLowerCase());
}

export function userTypeLabel(value: number | undefined): string {
  if (value === undefined) return 'UserType_none';
  return userTypeLabels.get(value) ?? `UserType_${value}`;
}

export function logonTypeName(value: number | undefined): string | undefined {
  return value === undefined ? undefined : logonTypeNames.get(value);
}

export const knownRecordTypeCount = recordTypeNames.size;
