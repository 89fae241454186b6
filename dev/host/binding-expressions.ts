// Binding expressions in output paths and queue names (`events/{rand-guid}.json`, `out/{contentId}.json`):
// the built-ins the host offers plus properties of the trigger's binding data (a JSON queue message, route
// params...). Pure: the clock and the GUID source are arguments. An unresolvable name fails the invocation,
// as in the real host.

export interface ExpressionSources {
  /** Binding data of the trigger; names match case-insensitively, dotted names walk into objects. */
  data: Record<string, unknown>;
  now: Date;
  newGuid: () => string;
}

// `{DateTime}` renders like the host: UTC, path-safe (no colons).
const pathSafeUtc = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/:/g, '-');

const builtIns: Record<string, (s: ExpressionSources) => string> = {
  'rand-guid': (s) => s.newGuid(),
  'datetime': (s) => pathSafeUtc(s.now),
  'sys.randguid': (s) => s.newGuid(),
  'sys.utcnow': (s) => s.now.toISOString(),
};

function lookup(data: unknown, path: string[]): unknown {
  let current = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    const entry = Object.entries(current).find(([k]) => k.toLowerCase() === key.toLowerCase());
    current = entry?.[1];
  }
  return current;
}

export function resolveBindingExpressions(template: string, sources: ExpressionSources): string {
  return template.replace(/\{([^{}]+)\}/g, (_, raw: string) => {
    const name = raw.trim();
    const builtIn = builtIns[name.toLowerCase()];
    if (builtIn) return builtIn(sources);
    const value = lookup(sources.data, name.split('.'));
    if (value === undefined || value === null || typeof value === 'object') {
      throw new Error(`No value for binding expression "{${name}}" in "${template}".`);
    }
    return String(value);
  });
}

/** `%name%` in binding properties (queue names, paths, schedules) reads an app setting, resolved at startup. */
export function resolveAppSettingReferences(text: string, settings: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/%([^%]+)%/g, (_, name: string) => {
    const value = settings[name];
    if (value === undefined) throw new Error(`Binding property "${text}" refers to app setting "${name}", which is not set.`);
    return value;
  });
}
