// Enum lookups over the tables copied from the reference (scripts/refresh-enums.js); the tables are data.
import tables from './enum-tables.json';

const recordTypeNames: Readonly<Record<string, string>> = tables.recordType;
const userTypeLabels: Readonly<Record<string, string>> = tables.userTypeLabel;
const logonTypeNames: Readonly<Record<string, string>> = tables.logonType;

const recordTypeByLowerName = new Map<string, number>();
for (const [value, name] of Object.entries(recordTypeNames)) recordTypeByLowerName.set(name.toLowerCase(), Number(value));
for (const [alias, value] of Object.entries(tables.recordTypeAliases)) {
  if (!recordTypeByLowerName.has(alias.toLowerCase())) recordTypeByLowerName.set(alias.toLowerCase(), value);
}

export function recordTypeName(value: number | undefined): string {
  if (value === undefined) return 'RecordType_none';
  return recordTypeNames[String(value)] ?? `RecordType_${value}`;
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
  return userTypeLabels[String(value)] ?? `UserType_${value}`;
}

export function logonTypeName(value: number | undefined): string | undefined {
  return value === undefined ? undefined : logonTypeNames[String(value)];
}

export const knownRecordTypeCount = Object.keys(recordTypeNames).length;
