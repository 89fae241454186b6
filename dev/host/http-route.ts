// HTTP trigger route templates as the host reads them (ASP.NET route syntax, the subset Functions apps use):
// literal segments (case-insensitive), `{name}`, `{name?}`, `{name:constraint}` and a final catch-all `{*name}`.
// Pure: a template compiles to a matcher from a URL path (without the route prefix) to decoded route params.

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; constraint: string | undefined }
  | { kind: 'catchAll'; name: string };

export type RouteParams = Record<string, string>;
export type RouteMatcher = (path: string) => RouteParams | undefined;

// Constraints the host would reject a value for; any other constraint accepts everything.
const constraintChecks: Record<string, (value: string) => boolean> = {
  int: (v) => /^-?\d+$/.test(v),
  long: (v) => /^-?\d+$/.test(v),
  alpha: (v) => /^[a-z]+$/i.test(v),
  bool: (v) => /^(true|false)$/i.test(v),
  guid: (v) => /^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$/i.test(v),
  double: (v) => v.trim() !== '' && !Number.isNaN(Number(v)),
  float: (v) => v.trim() !== '' && !Number.isNaN(Number(v)),
  decimal: (v) => v.trim() !== '' && !Number.isNaN(Number(v)),
};

function parseSegment(text: string): Segment {
  const param = /^\{(\*)?([A-Za-z_][\w]*)(\?)?(?::([^}]+))?\}$/.exec(text);
  if (!param) return { kind: 'literal', text: text.toLowerCase() };
  const [, star, name = '', optional, constraint] = param;
  if (star) return { kind: 'catchAll', name };
  return { kind: 'param', name, optional: optional === '?', constraint: constraint?.replace(/\(.*\)$/, '').toLowerCase() };
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function compileRoute(template: string): RouteMatcher {
  const segments = splitPath(template).map(parseSegment);
  return (path) => {
    const parts = splitPath(path).map(decodeSegment);
    const params: RouteParams = {};
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as Segment;
      const part = parts[i];
      if (segment.kind === 'catchAll') {
        if (parts.length > i) params[segment.name] = parts.slice(i).join('/');
        return params;
      }
      if (part === undefined) {
        if (segment.kind === 'param' && segment.optional) continue;
        return undefined;
      }
      if (segment.kind === 'literal') {
        if (part.toLowerCase() !== segment.text) return undefined;
      } else {
        const check = segment.constraint ? constraintChecks[segment.constraint] : undefined;
        if (check && !check(part)) return undefined;
        params[segment.name] = part;
      }
    }
    return parts.length <= segments.length ? params : undefined;
  };
}
