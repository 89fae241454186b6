// The reconciler's job for one stream (tenant + content type): list what the API has from the stored cursor
// minus an overlap up to now, enqueue every blob the ledger has not seen, and only then advance the cursor.
// Notifications are best-effort; this listing is the guarantee that a missed one costs minutes, not data.
// `reconcileStream` walks the whole range at once (the CLI, the serial baseline); `reconcileStep` is one window of
// a fan-out plan (reconcile-batch.ts runs a tenant's steps, functions/reconcileStream.ts), so instances share them.
// An odd listed item costs only itself: it is recorded once as `refused` in the ledger, its raw item kept in the
// dead letter, counted and logged; the good items around it are enqueued and the cursor advances all the same.
import { parseApiTime } from '../api-time';
import type { ContentType } from '../api/content-types';
import type { Listed, RefusedItem } from '../api/listed-item';
import type { ContentItem } from '../api/schemas';
import { planWindows } from '../api/windows';
import type { Logger } from '../log';
import { relayOwnEntries, type DeadLetter } from '../sinks/dead-letter';
import type { Telemetry } from '../telemetry';
import type { ContentMessage } from './content-message';
import type { Ledger, RefusedEntry } from './ledger';
import { isCurrentStep, opensOwnPlan, type StreamStep } from './reconcile-plan';
import { refusedEntry, storableRaw } from './refused-listing';

export interface ReconcileDeps {
  ledger: Ledger;
  listContent(tenantId: string, contentType: ContentType, range: { since: Date; until: Date }): AsyncIterable<Listed<ContentItem>>;
  enqueue(messages: ContentMessage[]): Promise<void>;
  /** Where a refused item's raw JSON is kept (sink `relay`: never forwarded). */
  deadLetter: DeadLetter;
  now: () => Date;
  /** Listed again behind the cursor, for clock skew and late listings. Default 30 min. */
  overlapMs: number;
  /** Where a stream without a cursor starts (O365_INITIAL_LOOKBACK, at most 7 days). */
  initialLookbackMs: number;
  logger: Logger;
  telemetry: Telemetry;
}

export interface ReconcileReport {
  tenantId: string;
  contentType: ContentType;
  since: Date;
  until: Date;
  listed: number;
  enqueued: number;
  /** Refused items first seen in this run (those of earlier runs are known and not counted again). */
  refused: number;
}

export async function reconcileStream(tenantId: string, contentType: ContentType, deps: ReconcileDeps): Promise<ReconcileReport> {
  const until = deps.now();
  const cursor = (await deps.ledger.getCursor(tenantId, contentType)) ?? new Date(until.getTime() - deps.initialLookbackMs);
  const report = await reconcileRange(tenantId, contentType, new Date(cursor.getTime() - deps.overlapMs), until, deps);
  await deps.ledger.setCursor(tenantId, contentType, until);
  return report;
}

export interface StepDeps extends ReconcileDeps {
  /** Sends the plan's next step (the rest of its range) on. */
  enqueueStep(next: StreamStep): Promise<void>;
}

export type StepReport =
  | (ReconcileReport & { outcome: 'listed'; step: number; done: boolean })
  /** Not the plan's current step (a duplicate, or a plan replaced after it expired): nothing listed, nothing sent. */
  | { tenantId: string; contentType: ContentType; outcome: 'stale'; step: number };

/**
 * One step of a fan-out plan (reconcile-plan.ts): lists ONE window from the cursor (minus the overlap) towards the
 * plan's `until`, enqueues what the ledger has not seen, then moves the plan and the cursor on in one guarded
 * write; only the step that moved the plan sends the next one, so a step handled twice (its message delivered
 * again) lists the same window again (known blobs are not enqueued again) and sends nothing.
 */
export async function reconcileStep(current: StreamStep, deps: StepDeps): Promise<StepReport> {
  const { tenantId, contentType, planId, step } = current;
  const { plan, cursor } = await deps.ledger.readPlan(tenantId, contentType);
  const stale = { tenantId, contentType, outcome: 'stale' as const, step };
  if (!isCurrentStep(plan, current)) {
    // Sent before the timer opened it: this first step opens its plan itself (unless a live plan holds the stream).
    if (!opensOwnPlan(plan, current, deps.now()) || !(await deps.ledger.openPlan(tenantId, contentType, planId, deps.now()))) return stale;
  }
  const now = deps.now();
  const until = new Date(Math.min(parseApiTime(current.until) ?? now.getTime(), Math.ceil(now.getTime() / 1000) * 1000));
  // The overlap re-lists behind a stored cursor; a stream's first plan starts at the lookback itself, so a 24 h
  // lookback is one window (one step), not two.
  const since = cursor === undefined ? new Date(until.getTime() - deps.initialLookbackMs) : new Date(cursor.getTime() - deps.overlapMs);
  const [first, ...rest] = planWindows(since, until, now).windows;
  const done = rest.length === 0;
  const end = done ? until : first!.end;
  const report = first === undefined
    ? { tenantId, contentType, since: until, until, listed: 0, enqueued: 0, refused: 0 }
    : await reconcileRange(tenantId, contentType, first.start, end, deps);
  const moved = await deps.ledger.advancePlan(tenantId, contentType, planId, step, end, done, deps.now());
  if (moved && !done) await deps.enqueueStep({ ...current, step: step + 1 });
  return { ...report, outcome: 'listed', step, done };
}

/** Lists `[since, until)`, enqueues what the ledger has not seen and records refused items; the cursor is the caller's. */
async function reconcileRange(tenantId: string, contentType: ContentType, since: Date, until: Date, deps: ReconcileDeps): Promise<ReconcileReport> {
  const listed: ContentItem[] = [];
  const refused = new Map<string, { entry: RefusedEntry; item: RefusedItem }>();
  for await (const entry of deps.listContent(tenantId, contentType, { since, until })) {
    if (entry.kind === 'item') listed.push(entry.item);
    else {
      const record = refusedEntry(tenantId, contentType, entry.refused);
      if (!refused.has(record.contentId)) refused.set(record.contentId, { entry: record, item: entry.refused });
    }
  }

  const known = await deps.ledger.known(tenantId, [...listed.map((i) => i.contentId), ...refused.keys()]);
  const fresh = new Map<string, ContentMessage>();
  for (const item of listed) {
    if (known.has(item.contentId) || fresh.has(item.contentId)) continue;
    fresh.set(item.contentId, {
      tenantId,
      contentType,
      contentId: item.contentId,
      contentCreated: item.contentCreated,
      contentExpiration: item.contentExpiration,
      waits: 0,
      source: 'reconciler',
    });
  }
  const messages = [...fresh.values()];
  if (messages.length > 0) {
    await deps.enqueue(messages);
    await deps.ledger.markSeen(messages);
    deps.logger.info('reconciler enqueued content the webhook had not delivered', { tenantId, contentType, count: messages.length });
  }
  // For the completeness receipt: known blobs are flagged listed once (fresh ones were inserted listed).
  await deps.ledger.markListed(tenantId, listed.map((i) => i.contentId).filter((id) => known.has(id)));
  deps.telemetry.metric('reconciler.enqueued', messages.length, { tenantId, contentType });

  // A refused item under the id of a good one in this listing is that blob's business: the good one is fetched.
  const newlyRefused = [...refused.values()].filter(({ entry }) => !known.has(entry.contentId) && !fresh.has(entry.contentId));
  const recorded = await recordRefused(newlyRefused, deps);
  return { tenantId, contentType, since, until, listed: listed.length + refused.size, enqueued: messages.length, refused: recorded };
}

/**
 * The dead letter first, then the ledger: a failure in between writes the raw item twice on the next run, never
 * loses it. Counted and logged only for the items whose ledger record is new, so once per item.
 */
async function recordRefused(items: ReadonlyArray<{ entry: RefusedEntry; item: RefusedItem }>, deps: ReconcileDeps): Promise<number> {
  if (items.length === 0) return 0;
  for (const { entry, item } of items) {
    const { record, asText } = storableRaw(item.raw);
    await deps.deadLetter.put(
      { tenantId: entry.tenantId, contentType: entry.contentType, contentId: entry.contentId, contentCreated: entry.contentCreated },
      `listing item refused: ${entry.reason}${asText ? ' (kept as its JSON text: nested too deep to keep as a value)' : ''}`,
      [record],
      relayOwnEntries,
    );
  }
  const recorded = await deps.ledger.markRefused(items.map((i) => i.entry));
  const first = items[0]!.entry;
  for (const entry of recorded) {
    const { position } = items.find((i) => i.entry === entry)!.item;
    deps.logger.warn('listed content item refused: not fetched, kept in the dead letter', {
      tenantId: entry.tenantId,
      contentType: entry.contentType,
      key: entry.contentId,
      reason: entry.reason,
      page: position.page,
      index: position.index,
    });
  }
  deps.telemetry.metric('listing.refused', recorded.length, { tenantId: first.tenantId, contentType: first.contentType });
  return recorded.length;
}
