// The completeness receipt, as a pure function: ledger rows and stream cursors in, per tenant, content type and
// UTC day out: what the API listed, what was notified, what reached each sink that should have it, and a verdict.
// A blob counts on the day of its contentCreated (the listing's own time). A day is `final` once a listing run
// ended at least 24 h after the day did (the API lists late content late); until then its verdict is `open`.
import { z } from 'zod';
import { ContentType } from '../api/content-types';
import type { ContentEntry, ContentState } from './ledger';

export const dayMs = 86_400_000;
/** How long after a day ends a listing must have run before the day is final. */
export const finalAfterMs = dayMs;

/** One ledger row as the receipt reads it: the entry and the instant its day is taken from. */
export interface ReceiptBlob {
  entry: ContentEntry;
  /** contentCreated, or first sight when the row has no API time (a refused item without one). */
  createdAt: Date;
}

export interface ReceiptInput {
  tenants: ReadonlyArray<{ tenantId: string; contentTypes: readonly ContentType[] }>;
  /** Per tenant: its rows in the range, and how many rows could not be read (never silently dropped). */
  rows: ReadonlyMap<string, { blobs: readonly ReceiptBlob[]; unreadable: number }>;
  /** Per `${tenantId}/${contentType}`: the stream's cursor, i.e. the end of its last finished listing run. */
  listedThrough: ReadonlyMap<string, Date | undefined>;
  since: Date;
  until: Date;
  now: Date;
}

const Count = z.number().int().nonnegative();
export const Verdict = z.enum(['complete', 'incomplete', 'open']);
export type Verdict = z.infer<typeof Verdict>;

export const SinkDay = z.object({
  sink: z.string(),
  /** Blobs routed to this sink when they were processed. */
  expected: Count,
  delivered: Count,
  /** Blobs whose share for this sink is (partly) in the dead letter. */
  deadLettered: Count,
  /** Blobs this sink has not finished (waiting, expired or never fetched). */
  missing: Count,
  recordsDelivered: Count,
  recordsDeadLettered: Count,
});
export type SinkDay = z.infer<typeof SinkDay>;

export const StreamDay = z.object({
  tenantId: z.string(),
  contentType: ContentType,
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  final: z.boolean(),
  /** End of the stream's last listing run, when it had one. */
  listedThrough: z.string().nullable(),
  verdict: Verdict,
  blobs: z.object({
    known: Count,
    listed: Count,
    notified: Count,
    /** Listed but never notified: the reconciler alone found them (a dropped notification). */
    listedNotNotified: Count,
    notifiedNotListed: Count,
    delivered: Count,
    withProblems: Count,
    deadLettered: Count,
    refused: Count,
    expired: Count,
    pending: Count,
  }),
  records: z.object({ in: Count, filtered: Count }),
  sinks: z.array(SinkDay),
  /** Why the day is not complete, one line per cause (empty when complete). */
  problems: z.array(z.string()),
});
export type StreamDay = z.infer<typeof StreamDay>;

export const TenantReceipt = z.object({
  tenantId: z.string(),
  verdict: Verdict,
  unreadableRows: Count,
  days: z.array(StreamDay),
});
export type TenantReceipt = z.infer<typeof TenantReceipt>;

export const Receipt = z.object({
  kind: z.literal('o365-relay/receipt'),
  generatedAt: z.string(),
  since: z.string(),
  until: z.string(),
  verdict: Verdict,
  tenants: z.array(TenantReceipt),
});
export type Receipt = z.infer<typeof Receipt>;

/** One tenant's final day as written to blob storage (immutable once written). */
export const DayReceipt = z.object({
  kind: z.literal('o365-relay/receipt-day'),
  tenantId: z.string(),
  day: z.string(),
  generatedAt: z.string(),
  verdict: Verdict,
  streams: z.array(StreamDay),
});
export type DayReceipt = z.infer<typeof DayReceipt>;

export const utcDay = (at: Date): string => at.toISOString().slice(0, 10);
export const dayStart = (at: Date): Date => new Date(Date.parse(utcDay(at) + 'T00:00:00.000Z'));

/** Every UTC day touched by [since, until], oldest first. */
export function daysBetween(since: Date, until: Date): string[] {
  const days: string[] = [];
  for (let t = dayStart(since).getTime(); t <= until.getTime(); t += dayMs) days.push(utcDay(new Date(t)));
  return days;
}

export function isFinal(day: string, listedThrough: Date | undefined): boolean {
  return listedThrough !== undefined && listedThrough.getTime() >= Date.parse(day + 'T00:00:00.000Z') + dayMs + finalAfterMs;
}

const reachedStates: ReadonlySet<ContentState> = new Set(['delivered', 'delivered-with-problems']);

/** The sinks a blob should reach: as routed at processing time; rows older than the tally: the sinks it progressed. */
const targetsOf = (entry: ContentEntry): string[] => entry.tally?.targets ?? Object.keys(entry.sinks);

type SinkOutcome = 'delivered' | 'dead-lettered' | 'missing';
function sinkOutcome(entry: ContentEntry, sink: string): SinkOutcome {
  const progress = entry.sinks[sink];
  if (!progress?.done) return 'missing';
  return (progress.deadLettered ?? 0) > 0 ? 'dead-lettered' : 'delivered';
}

/** A blob reached every sink that should have it, whole. */
export function reachedEverySink(entry: ContentEntry): boolean {
  return reachedStates.has(entry.state) && targetsOf(entry).every((sink) => sinkOutcome(entry, sink) === 'delivered');
}

export function verdictOf(final: boolean, blobs: readonly ContentEntry[], unreadable = 0): Verdict {
  if (!final) return 'open';
  return unreadable === 0 && blobs.every(reachedEverySink) ? 'complete' : 'incomplete';
}

/** The worst of several verdicts: incomplete, then open, then complete. */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'complete';
  for (const v of verdicts) {
    if (v === 'incomplete') return v;
    if (v === 'open') worst = v;
  }
  return worst;
}

export function streamDay(tenantId: string, contentType: ContentType, day: string, entries: readonly ContentEntry[], listedThrough: Date | undefined): StreamDay {
  const final = isFinal(day, listedThrough);
  const count = (test: (e: ContentEntry) => boolean) => entries.filter(test).length;
  const sinkNames = [...new Set(entries.flatMap(targetsOf))].sort();
  const sinks = sinkNames.map((sink): SinkDay => {
    const routed = entries.filter((e) => targetsOf(e).includes(sink));
    const outcomes = routed.map((e) => sinkOutcome(e, sink));
    const progress = routed.map((e) => e.sinks[sink]);
    const recordsDeadLettered = progress.reduce((n, p) => n + (p?.deadLettered ?? 0), 0);
    return {
      sink,
      expected: routed.length,
      delivered: outcomes.filter((o) => o === 'delivered').length,
      deadLettered: outcomes.filter((o) => o === 'dead-lettered').length,
      missing: outcomes.filter((o) => o === 'missing').length,
      recordsDelivered: progress.reduce((n, p) => n + (p?.accepted ?? 0), 0) - recordsDeadLettered,
      recordsDeadLettered,
    };
  });
  const blobs = {
    known: entries.length,
    listed: count((e) => e.listed === true),
    notified: count((e) => e.notified === true),
    listedNotNotified: count((e) => e.listed === true && e.notified !== true),
    notifiedNotListed: count((e) => e.notified === true && e.listed !== true),
    delivered: count((e) => e.state === 'delivered'),
    withProblems: count((e) => e.state === 'delivered-with-problems'),
    deadLettered: count((e) => e.state === 'dead-lettered' || targetsOf(e).some((s) => sinkOutcome(e, s) === 'dead-lettered')),
    refused: count((e) => e.state === 'refused'),
    expired: count((e) => e.state === 'expired'),
    pending: count((e) => e.state === 'enqueued'),
  };
  const problems = [
    ...(blobs.refused > 0 ? [`${blobs.refused} listed blob(s) refused (never fetched)`] : []),
    ...(blobs.expired > 0 ? [`${blobs.expired} blob(s) expired before delivery (data loss)`] : []),
    ...(blobs.pending > 0 ? [`${blobs.pending} blob(s) still pending`] : []),
    ...(count((e) => e.state === 'dead-lettered') > 0 ? [`${count((e) => e.state === 'dead-lettered')} blob(s) dead-lettered`] : []),
    ...sinks.filter((s) => s.deadLettered > 0).map((s) => `sink ${s.sink}: ${s.deadLettered} blob(s), ${s.recordsDeadLettered} record(s) in the dead letter`),
    ...sinks
      .map((s) => ({ s, missing: entries.filter((e) => reachedStates.has(e.state) && targetsOf(e).includes(s.sink) && sinkOutcome(e, s.sink) === 'missing').length }))
      .filter(({ missing }) => missing > 0)
      .map(({ s, missing }) => `sink ${s.sink}: ${missing} delivered blob(s) it does not have`),
    ...(final ? [] : [`open: not final until a listing runs after ${new Date(Date.parse(day + 'T00:00:00.000Z') + dayMs + finalAfterMs).toISOString()}`]),
  ];
  return {
    tenantId,
    contentType,
    day,
    final,
    listedThrough: listedThrough?.toISOString() ?? null,
    verdict: verdictOf(final, entries),
    blobs,
    records: {
      in: entries.reduce((n, e) => n + (e.tally?.records ?? 0), 0),
      filtered: entries.reduce((n, e) => n + (e.tally?.filtered ?? 0), 0),
    },
    sinks,
    problems,
  };
}

export const streamKey = (tenantId: string, contentType: string): string => `${tenantId}/${contentType}`;

export function buildReceipt(input: ReceiptInput): Receipt {
  const days = daysBetween(input.since, input.until);
  const tenants = input.tenants.map(({ tenantId, contentTypes }): TenantReceipt => {
    const rows = input.rows.get(tenantId) ?? { blobs: [], unreadable: 0 };
    // Rows grouped once: tenant x type x day can be 1,000 x 5 x 8 cells.
    const grouped = new Map<string, ContentEntry[]>();
    for (const { entry, createdAt } of rows.blobs) {
      const key = `${entry.contentType}/${utcDay(createdAt)}`;
      const list = grouped.get(key);
      if (list) list.push(entry);
      else grouped.set(key, [entry]);
    }
    const streamDays = days.flatMap((day) =>
      contentTypes.map((contentType) => streamDay(tenantId, contentType, day, grouped.get(`${contentType}/${day}`) ?? [], input.listedThrough.get(streamKey(tenantId, contentType)))));
    const verdict = worstVerdict([...streamDays.map((d) => d.verdict), ...(rows.unreadable > 0 ? ['incomplete' as const] : [])]);
    return { tenantId, verdict, unreadableRows: rows.unreadable, days: streamDays };
  });
  return {
    kind: 'o365-relay/receipt',
    generatedAt: input.now.toISOString(),
    since: dayStart(input.since).toISOString(),
    until: input.until.toISOString(),
    verdict: worstVerdict(tenants.map((t) => t.verdict)),
    tenants,
  };
}

/** The tenant's days whose every stream is final: each becomes an immutable receipt in blob storage. */
export function finalDayReceipts(receipt: Receipt): DayReceipt[] {
  return receipt.tenants.flatMap((tenant) => {
    const byDay = new Map<string, StreamDay[]>();
    for (const d of tenant.days) byDay.set(d.day, [...(byDay.get(d.day) ?? []), d]);
    return [...byDay].filter(([, streams]) => streams.every((s) => s.final)).map(([day, streams]): DayReceipt => ({
      kind: 'o365-relay/receipt-day',
      tenantId: tenant.tenantId,
      day,
      generatedAt: receipt.generatedAt,
      verdict: worstVerdict(streams.map((s) => s.verdict)),
      streams,
    }));
  });
}
