// A fast "already fits" check derived from a zod schema. zod stays the single source of truth for the
// record shapes, but a full safeParse copies every record and costs far more than JSON.parse; almost
// every real record already fits, so the decoder runs zod only for the few that do not (to coerce them
// and to report why), and uses the rest as they are.
import type { z } from 'zod';

export type Conformance = (value: unknown) => boolean;

const always: Conformance = () => true;

/**
 * Checks zod cannot show us (a refine) registered with their plain predicate, so the fast path runs the predicate
 * itself: `conformsBy(z.string().refine(p), (v) => typeof v === 'string' && p(v))`.
 */
const registered = new WeakMap<z.ZodType, Conformance>();
export function conformsBy<S extends z.ZodType>(schema: S, check: Conformance): S {
  registered.set(schema, check);
  return schema;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Builds the check from the schema's definition; a schema kind it does not know defers to zod. */
export function compileConformance(schema: z.ZodType): Conformance {
  const s = schema as unknown as {
    type: string;
    shape?: Record<string, z.ZodType>;
    element?: z.ZodType;
    options?: z.ZodType[];
    out?: z.ZodType;
    isInt?: boolean;
    unwrap?: () => z.ZodType;
    def: { catchall?: { type: string } };
    in?: { type: string; def: { transform?: unknown } };
  }; // zod's public accessors, typed loosely because they differ per schema kind
  const own = registered.get(schema);
  if (own) return own;
  switch (s.type) {
    case 'string':
      // A string with checks we were not told about (min, regex, refine...) is left to zod.
      return (s.def as { checks?: unknown[] }).checks?.length ? (v) => typeof v === 'string' && schema.safeParse(v).success : (v) => typeof v === 'string';
    case 'number':
      return s.isInt ? (v) => Number.isInteger(v) : (v) => typeof v === 'number' && Number.isFinite(v);
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'unknown':
    case 'any':
      return always;
    case 'optional': {
      const inner = compileConformance(s.unwrap!());
      return (v) => v === undefined || inner(v);
    }
    case 'nullable': {
      const inner = compileConformance(s.unwrap!());
      return (v) => v === null || inner(v);
    }
    case 'pipe': {
      // preprocess(normalise, T): a value the preprocess leaves as it is and that is already a T needs nothing from
      // zod; anything the preprocess would change (a "2", a PowerShell-form parameter string) goes to zod.
      const out = compileConformance(s.out!);
      const normalise = s.in?.type === 'transform' ? s.in.def.transform : undefined;
      if (typeof normalise !== 'function') return out;
      const keep = normalise as (value: unknown, ctx: unknown) => unknown;
      return (v) => out(v) && keep(v, undefined) === v;
    }
    case 'array': {
      const element = compileConformance(s.element!);
      return (v) => Array.isArray(v) && v.every(element);
    }
    case 'union': {
      const options = s.options!.map(compileConformance);
      return (v) => options.some((o) => o(v));
    }
    case 'object': {
      const fields = Object.entries(s.shape!).map(([key, field]) => [key, compileConformance(field)] as const);
      const known = new Set(Object.keys(s.shape!)); // a Set: a record key `constructor` is not in the shape
      const loose = s.def.catchall?.type === 'unknown';
      return (v) => {
        if (!isPlainObject(v)) return false;
        for (const [key, fits] of fields) {
          const value = v[key];
          if (value !== undefined && !fits(value)) return false;
        }
        return loose || Object.keys(v).every((k) => known.has(k));
      };
    }
    default:
      return () => false;
  }
}
