// What the tenant does not want, as pure predicates over decoded records. One zod schema configures them;
// the CLI and the Functions app both read it.
import { z } from 'zod';
import type { DecodedRecord } from './decode';
import type { AuditRecord } from './schemas';
import { recordTypeValue } from './enums';
import { compileGlobs } from './glob';
import { highlightsOf } from './highlights';

const list = <T extends z.ZodType>(item: T) => z.array(item).optional();

export const FilterRules = z.strictObject({
  contentTypes: list(z.string().min(1)),
  /** RecordType names (aliases accepted) or numbers; an unknown name is refused when the settings load. */
  recordTypes: list(
    z.union([z.string().min(1), z.number().int()]).refine((v) => recordTypeValue(v) !== undefined, {
      // RecordType names are not secret, and naming the unknown one is the useful part of the message.
      error: (issue) => `unknown RecordType "${String(issue.input).slice(0, 60)}"`,
    }),
  ),
  workloads: list(z.string().min(1)),
  /** Exact names or globs with * and ?, case-insensitive. */
  operations: list(z.string().min(1)),
  /** UserId, exact or glob, case-insensitive. */
  users: list(z.string().min(1)),
});
export type FilterRules = z.infer<typeof FilterRules>;

export const FilterConfig = z.strictObject({
  include: FilterRules.optional(),
  exclude: FilterRules.optional(),
  /** false drops the verbose mailbox activity (ExchangeItem, ExchangeItemGroup, ExchangeItemAggregated). */
  exchangeMailboxActivity: z.boolean().default(true),
  /** true keeps only records with a security highlight (highlights.ts), e.g. for a SOC-only sink. */
  highlightedOnly: z.boolean().default(false),
});
export type FilterConfig = z.input<typeof FilterConfig>;

/** The mailbox-activity RecordTypes the named switch turns off; ExchangeAdmin (1) stays. */
export const exchangeMailboxActivityRecordTypes: readonly number[] = [2, 3, 50];

export interface RecordContext {
  contentType?: string;
}
export type RecordFilter = (record: DecodedRecord, context?: RecordContext) => boolean;

type Matcher = (record: DecodedRecord, context: RecordContext) => boolean;

/**
 * A field of the record's common view, read as unknown: whatever a record carries (a number where a string is
 * expected, null, a prototype name) makes a matcher answer false, never throw.
 */
function commonField(record: DecodedRecord, name: keyof AuditRecord): unknown {
  const common: unknown = record.common;
  return common !== null && typeof common === 'object' ? (common as Record<string, unknown>)[name] : undefined;
}

/** RecordType membership: a Set, so an odd value (a string, a prototype name, null) is simply not a member. */
function recordTypeIn(values: ReadonlySet<number>): Matcher {
  return (r) => {
    const recordType = commonField(r, 'RecordType');
    return typeof recordType === 'number' && values.has(recordType);
  };
}

function textMatcher(values: readonly string[], read: (r: DecodedRecord, c: RecordContext) => unknown): Matcher {
  const matches = compileGlobs(values);
  return (r, c) => {
    const value = read(r, c);
    return typeof value === 'string' && matches(value);
  };
}

/** One matcher per dimension the rules name; an empty rule set yields none. */
function matchers(rules: FilterRules): Matcher[] {
  const out: Matcher[] = [];
  if (rules.contentTypes) out.push(textMatcher(rules.contentTypes, (_r, c) => c.contentType));
  if (rules.recordTypes) {
    const wanted = new Set<number>();
    for (const value of rules.recordTypes) {
      const n = recordTypeValue(value);
      if (n !== undefined) wanted.add(n); // the schema refused unknown names already
    }
    out.push(recordTypeIn(wanted));
  }
  if (rules.workloads) out.push(textMatcher(rules.workloads, (r) => commonField(r, 'Workload')));
  if (rules.operations) out.push(textMatcher(rules.operations, (r) => commonField(r, 'Operation')));
  if (rules.users) out.push(textMatcher(rules.users, (r) => commonField(r, 'UserId')));
  return out;
}

/**
 * A record passes when it matches every dimension named under `include` (any value within one) and no
 * dimension named under `exclude` (and, with `highlightedOnly`, has a security highlight). Throws on a
 * configuration it cannot honour (an unknown RecordType name).
 */
export function compileFilter(input: FilterConfig = {}): RecordFilter {
  const config = FilterConfig.parse(input);
  const include = config.include ? matchers(config.include) : [];
  const exclude = config.exclude ? matchers(config.exclude) : [];
  if (!config.exchangeMailboxActivity) {
    exclude.push(recordTypeIn(new Set(exchangeMailboxActivityRecordTypes)));
  }
  // Highlights are keyed by a text Operation; checked here too, so a record without a typed view is not highlighted.
  if (config.highlightedOnly) include.push((r) => typeof commonField(r, 'Operation') === 'string' && highlightsOf(r).length > 0);
  if (include.length === 0 && exclude.length === 0) return () => true;
  return (record, context) => {
    const c = context ?? {};
    return include.every((m) => m(record, c)) && !exclude.some((m) => m(record, c));
  };
}
