// Names for the enum-valued fields the line shows (FileVerdict, Policy, PolicyAction, URLClickAction...). The
// tables are data (value-names.json, each citing its source), read into Maps so no value a record carries can
// reach an inherited property. Real records send some of these as names already ("Quarantine") and some as
// numbers or numeric strings ("1"): only a number is translated, anything else is shown as written.
import tables from './value-names.json';

export type ValueTable = 'fileVerdict' | 'threatPolicy' | 'policyAction' | 'urlClickAction' | 'sourceWorkload' | 'addOnType' | 'omeStatus' | 'requestType' | 'requestSource';

const byNumber = (table: Readonly<Record<string, string>>): ReadonlyMap<number, string> =>
  new Map(Object.entries(table).filter(([key]) => /^-?\d+$/.test(key)).map(([key, name]) => [Number(key), name]));

const numberTables: ReadonlyMap<ValueTable, ReadonlyMap<number, string>> = new Map(
  (['fileVerdict', 'threatPolicy', 'policyAction', 'urlClickAction', 'sourceWorkload', 'addOnType', 'omeStatus', 'requestType', 'requestSource'] as const).map(
    (name) => [name, byNumber(tables[name])],
  ),
);

const sensitiveTypeNames: ReadonlyMap<string, string> = new Map(
  Object.entries(tables.sensitiveTypeName)
    .filter((entry): entry is [string, { name: string; source: string }] => typeof entry[1] === 'object')
    .map(([guid, row]) => [guid.toLowerCase(), row.name]),
);

/** The table's name for a numeric value (number or integer string); anything else, and unknown numbers, as given. */
export function valueName(table: ValueTable, value: unknown): unknown {
  let n: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) n = value;
  else if (typeof value === 'string' && /^\s*-?\d{1,6}\s*$/.test(value)) n = Number(value);
  if (n === undefined) return value;
  return numberTables.get(table)?.get(n) ?? value;
}

/** A DLP sensitive information type GUID by name where our table knows it; unknown GUIDs stay GUIDs. */
export function sensitiveTypeName(guid: string): string {
  return sensitiveTypeNames.get(guid.trim().toLowerCase()) ?? guid;
}
