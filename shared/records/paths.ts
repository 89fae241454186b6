// Small path expressions over plain JSON data, so field lists can stay data:
//   'Item.ParentFolder.Path'             nested properties
//   'AffectedItems.0.Subject'            array index
//   'ExtendedProperties[UserAgent]'      the Value of the {Name|Key, Value} pair named UserAgent
//   'Folder.Path|AffectedItems.0.ParentFolder.Path'   the first alternative that has a value

type Step = { kind: 'prop'; name: string } | { kind: 'pair'; list: string; name: string };
export type Accessor = (record: unknown) => unknown;

function parseStep(segment: string): Step {
  const pair = /^([^[\]]+)\[([^\]]+)\]$/.exec(segment);
  if (pair) return { kind: 'pair', list: pair[1]!, name: pair[2]! };
  return { kind: 'prop', name: segment };
}

function child(value: unknown, step: Step): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  if (step.kind === 'prop') return (value as Record<string, unknown>)[step.name];
  return pairValue((value as Record<string, unknown>)[step.list], step.name);
}

/** The Value of the first {Name, Value} (or {Key, Value}) element named `name`, case-insensitively. */
export function pairValue(list: unknown, name: string): unknown {
  if (!Array.isArray(list)) return undefined;
  const wanted = name.toLowerCase();
  for (const entry of list) {
    if (entry === null || typeof entry !== 'object') continue;
    const e = entry as Record<string, unknown>;
    const key = typeof e.Name === 'string' ? e.Name : typeof e.Key === 'string' ? e.Key : undefined;
    if (key !== undefined && key.toLowerCase() === wanted) return e.Value;
  }
  return undefined;
}

export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
}

export function compilePath(expression: string): Accessor {
  const alternatives = expression.split('|').map((alt) => alt.split('.').map(parseStep));
  return (record) => {
    for (const steps of alternatives) {
      let value: unknown = record;
      for (const step of steps) value = child(value, step);
      if (isPresent(value)) return value;
    }
    return undefined;
  };
}
