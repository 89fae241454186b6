// The ledger's rows in Azure Table storage and their (de)serialisation, as pure functions. One table holds
// three kinds of row, told apart by their PartitionKey prefix:
//   content:{tenant}  / {contentId}    one per content blob: state, claim, per-sink progress (JSON text)
//   stream:{tenant}   / {contentType}  the reconciler's cursor and plan, the last subscription start and notification,
//                                      the refused listed items' count (health reads every stream row in one query)
//   lease             / {name}         named leases (e.g. the subscription keeper's)
//   expiry:{day}:{tenant} / {contentId} the purge index: one per content row, under the day purge counts from
//   subscriptions     / {tenant}       the subscriptions as the keeper last listed them (for health)
// Keys are encoded (table-keys.ts); raw ids are kept in their own columns. Epoch-ms instants are Int64 (bigint).
import { z } from 'zod';
import { ContentType } from '../api/content-types';
import type { ContentKey, ContentMessage } from '../pipeline/content-message';
import { parseApiTime } from '../api-time';
import type { BlobEnd, BlobTally, ClaimResult, ContentEntry, ContentState, OddStreamRow, RefusedEntry, SinkProgress, StreamRecord } from '../pipeline/ledger';
import { SubscriptionSnapshot } from '../pipeline/subscription-state';
import type { PlanState } from '../pipeline/reconcile-plan';
import { encodeKey } from './table-keys';
import { StateStoreError } from './store-error';

export const contentPartitionPrefix = 'content:';
export const contentPartition = (tenantId: string): string => contentPartitionPrefix + encodeKey(tenantId);
export const contentRowKey = (contentId: string): string => encodeKey(contentId);
export const streamPartitionPrefix = 'stream:';
export const streamPartition = (tenantId: string): string => streamPartitionPrefix + encodeKey(tenantId);
export const leasePartition = 'lease';

export interface TableRow {
  partitionKey: string;
  rowKey: string;
  [column: string]: unknown;
}

/** Int64 columns come back as bigint; a row written by hand may hold a plain number. */
const epochMs = z.union([z.bigint(), z.number()]).transform(Number);
const SinkProgress = z.object({ accepted: z.number().int().nonnegative(), done: z.boolean(), deadLettered: z.number().int().nonnegative().optional() });
const SinksJson = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'sinks is not JSON' });
    return z.NEVER;
  }
}).pipe(z.record(z.string(), SinkProgress));

/** The worker's tally of a finished blob (for the completeness receipt), JSON text like `sinks`. */
const BlobTally = z.object({
  targets: z.array(z.string()),
  records: z.number().int().nonnegative().optional(),
  filtered: z.number().int().nonnegative().optional(),
});
const TallyJson = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'tally is not JSON' });
    return z.NEVER;
  }
}).pipe(BlobTally);

const ContentRow = z.object({
  tenantId: z.string(),
  contentId: z.string(),
  contentType: ContentType,
  contentCreated: z.string(),
  contentExpiration: z.string(),
  createdAt: z.date(),
  state: z.enum(['enqueued', 'delivered', 'delivered-with-problems', 'expired', 'dead-lettered', 'refused']),
  claimOwner: z.string(),
  claimUntil: epochMs,
  sinks: SinksJson,
  attempts: z.number().int().nonnegative(),
  detail: z.string().optional(),
  // Receipt columns, absent on rows written before them.
  listed: z.boolean().optional(),
  notified: z.boolean().optional(),
  tally: TallyJson.optional(),
});

const StreamRow = z.object({
  cursor: z.date().optional(),
  lastStart: z.date().optional(),
  lastNotification: z.date().optional(),
  // Fan-out reconcile plan (reconcile-plan.ts); absent on streams never planned.
  planId: z.string().optional(),
  planStep: z.number().int().nonnegative().optional(),
  plannedAt: z.date().optional(),
  planTouchedAt: z.date().optional(),
  planFinishedAt: z.date().optional(),
  lastReconciled: z.date().optional(),
  // Refused listed items recorded for the stream (refused-count.ts); absent on streams that never had one.
  refusedCount: z.number().int().nonnegative().optional(),
  lastRefusedAt: z.date().optional(),
});
export type StreamState = z.infer<typeof StreamRow>;

/** The plan a stream row holds, if any. */
export function planFromStream(s: StreamState): PlanState | undefined {
  if (s.planId === undefined || s.planStep === undefined || s.plannedAt === undefined || s.planTouchedAt === undefined) return undefined;
  return { planId: s.planId, step: s.planStep, plannedAt: s.plannedAt, touchedAt: s.planTouchedAt, ...(s.planFinishedAt ? { finishedAt: s.planFinishedAt } : {}) };
}

/** The stream row with `plan` in it; a finished plan also sets lastReconciled. */
export function streamWithPlan(s: StreamState, plan: PlanState): StreamState {
  const { planFinishedAt: _previous, ...rest } = s;
  return {
    ...rest,
    planId: plan.planId,
    planStep: plan.step,
    plannedAt: plan.plannedAt,
    planTouchedAt: plan.touchedAt,
    ...(plan.finishedAt ? { planFinishedAt: plan.finishedAt, lastReconciled: plan.finishedAt } : {}),
  };
}

const LeaseRow = z.object({ owner: z.string(), until: epochMs });
export type LeaseState = z.infer<typeof LeaseRow>;

function parseRow<S extends z.ZodType>(schema: S, kind: string, row: unknown): z.infer<S> {
  const parsed = schema.safeParse(row);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.map(String).join('.') || '(row)').join(', ');
    throw new StateStoreError('STATE_CORRUPT', `table storage: a ${kind} row has an unexpected shape (${where})`);
  }
  return parsed.data;
}

/** A content entry with the instant `purge` compares against (contentCreated, or the first write if unparsable). */
export interface StoredContent {
  entry: ContentEntry;
  createdAt: Date;
}

export function contentFromRow(row: unknown): StoredContent {
  const r = parseRow(ContentRow, 'content', row);
  const entry: ContentEntry = {
    tenantId: r.tenantId,
    contentId: r.contentId,
    contentType: r.contentType,
    contentCreated: r.contentCreated,
    contentExpiration: r.contentExpiration,
    state: r.state,
    claim: r.claimOwner === '' ? null : { owner: r.claimOwner, until: r.claimUntil },
    sinks: r.sinks,
    attempts: r.attempts,
    ...(r.detail === undefined ? {} : { detail: r.detail }),
    ...(r.listed === undefined ? {} : { listed: r.listed }),
    ...(r.notified === undefined ? {} : { notified: r.notified }),
    ...(r.tally === undefined ? {} : { tally: r.tally }),
  };
  return { entry, createdAt: r.createdAt };
}

export function contentToRow({ entry, createdAt }: StoredContent): TableRow {
  return {
    partitionKey: contentPartition(entry.tenantId),
    rowKey: contentRowKey(entry.contentId),
    tenantId: entry.tenantId,
    contentId: entry.contentId,
    contentType: entry.contentType,
    contentCreated: entry.contentCreated,
    contentExpiration: entry.contentExpiration,
    createdAt,
    state: entry.state,
    claimOwner: entry.claim?.owner ?? '',
    claimUntil: BigInt(entry.claim?.until ?? 0),
    sinks: JSON.stringify(entry.sinks),
    attempts: entry.attempts,
    ...(entry.detail === undefined ? {} : { detail: entry.detail }),
    ...(entry.listed === undefined ? {} : { listed: entry.listed }),
    ...(entry.notified === undefined ? {} : { notified: entry.notified }),
    ...(entry.tally === undefined ? {} : { tally: JSON.stringify(entry.tally) }),
  };
}

/** When purge counts from: contentCreated when it is an API time, else the first write. */
const createdAtOf = (contentCreated: string, now: number): Date => new Date(parseApiTime(contentCreated) ?? now);

/** A fresh entry for a blob first heard of now; `createdAt` falls back to `now` when contentCreated is unparsable. */
export function newContent(message: ContentMessage, now: number): StoredContent {
  return {
    entry: {
      tenantId: message.tenantId,
      contentId: message.contentId,
      contentType: message.contentType,
      contentCreated: message.contentCreated,
      contentExpiration: message.contentExpiration,
      state: 'enqueued',
      claim: null,
      sinks: {},
      attempts: 0,
      ...sourceFlags(message, {}),
    },
    createdAt: createdAtOf(message.contentCreated, now),
  };
}

/** What the message's producer tells the receipt: a reconciler message was listed, a webhook one notified. */
function sourceFlags(message: ContentMessage, entry: Pick<ContentEntry, 'listed' | 'notified'>): Pick<ContentEntry, 'listed' | 'notified'> {
  const listed = entry.listed === true || message.source === 'reconciler';
  const notified = entry.notified === true || message.source === 'webhook';
  return { ...(listed ? { listed } : {}), ...(notified ? { notified } : {}) };
}

/** The entry of a refused listed item: finished from the start (a claim finds it `finished`, never fetches it). */
export function refusedContent(refused: RefusedEntry, now: number): StoredContent {
  return {
    entry: {
      tenantId: refused.tenantId,
      contentId: refused.contentId,
      contentType: refused.contentType,
      contentCreated: refused.contentCreated,
      contentExpiration: refused.contentExpiration,
      state: 'refused',
      claim: null,
      sinks: {},
      attempts: 0,
      detail: refused.reason,
      listed: true,
    },
    createdAt: createdAtOf(refused.contentCreated, now),
  };
}

export const streamFromRow = (row: unknown): StreamState => parseRow(StreamRow, 'stream', row);

/** The stream a row names in its own columns (streamToRow always writes them), with its state. */
const StreamIdentity = z.object({ tenantId: z.string(), contentType: ContentType });
const LooseIdentity = z.object({ partitionKey: z.string().catch(''), rowKey: z.string().catch(''), tenantId: z.string().optional().catch(undefined), contentType: z.string().optional().catch(undefined) });

/**
 * A row of the all-streams query: the stream with its state, or, for a row that does not parse, its key, whatever
 * stream its columns name and the problem, so the caller can name it and read on.
 */
export function streamRecordFromRow(row: unknown): { ok: true; record: StreamRecord } | { ok: false; odd: OddStreamRow } {
  try {
    const { tenantId, contentType } = parseRow(StreamIdentity, 'stream', row);
    return { ok: true, record: { ...streamFromRow(row), tenantId, contentType } };
  } catch (err) {
    if (!(err instanceof StateStoreError)) throw err;
    const loose = LooseIdentity.parse(typeof row === 'object' && row !== null ? row : {});
    return { ok: false, odd: { key: `${loose.partitionKey}/${loose.rowKey}`, tenantId: loose.tenantId, contentType: loose.contentType, problem: err.message } };
  }
}

export function streamToRow(tenantId: string, contentType: ContentType, state: StreamState): TableRow {
  return {
    partitionKey: streamPartition(tenantId),
    rowKey: encodeKey(contentType),
    tenantId,
    contentType,
    ...(state.cursor ? { cursor: state.cursor } : {}),
    ...(state.lastStart ? { lastStart: state.lastStart } : {}),
    ...(state.lastNotification ? { lastNotification: state.lastNotification } : {}),
    ...(state.planId !== undefined ? { planId: state.planId } : {}),
    ...(state.planStep !== undefined ? { planStep: state.planStep } : {}),
    ...(state.plannedAt ? { plannedAt: state.plannedAt } : {}),
    ...(state.planTouchedAt ? { planTouchedAt: state.planTouchedAt } : {}),
    ...(state.planFinishedAt ? { planFinishedAt: state.planFinishedAt } : {}),
    ...(state.lastReconciled ? { lastReconciled: state.lastReconciled } : {}),
    ...(state.refusedCount !== undefined ? { refusedCount: state.refusedCount } : {}),
    ...(state.lastRefusedAt ? { lastRefusedAt: state.lastRefusedAt } : {}),
  };
}

export const leaseFromRow = (row: unknown): LeaseState => parseRow(LeaseRow, 'lease', row);

export const leaseToRow = (name: string, lease: LeaseState): TableRow => ({
  partitionKey: leasePartition,
  rowKey: encodeKey(name),
  name,
  owner: lease.owner,
  until: BigInt(lease.until),
});

// ---- decisions: what a write should be, given what is stored (pure; the ledger applies them ETag-guarded) ----

export interface Decision<T> {
  result: T;
  /** The row to write (Replace under the read ETag, or insert when nothing was stored); absent: write nothing. */
  next?: StoredContent;
}

const isLive = (claim: ContentEntry['claim'], now: number): claim is NonNullable<ContentEntry['claim']> =>
  claim !== null && claim.until > now;

export function decideClaim(stored: StoredContent | undefined, message: ContentMessage, owner: string, leaseMs: number, now: number): Decision<ClaimResult> {
  const base = stored ?? newContent(message, now);
  const { entry } = base;
  if (entry.state !== 'enqueued') {
    // A notification arriving after the reconciler's copy finished the blob: one write, once, for the receipt.
    if (message.source !== 'webhook' || entry.notified === true) return { result: { kind: 'finished', entry } };
    const flagged = { ...entry, notified: true };
    return { result: { kind: 'finished', entry: flagged }, next: { ...base, entry: flagged } };
  }
  const live = isLive(entry.claim, now);
  if (live && entry.claim?.owner !== owner) return { result: { kind: 'held', until: entry.claim!.until } };
  // The same owner claiming again while its claim lives extends it; it is not a new attempt.
  const next: ContentEntry = { ...entry, ...sourceFlags(message, entry), claim: { owner, until: now + leaseMs }, attempts: entry.attempts + (live ? 0 : 1) };
  return { result: { kind: 'claimed', entry: next }, next: { ...base, entry: next } };
}

/** The caller's own claim, or CLAIM_LOST: every write under a claim goes through this. */
function ownClaim(stored: StoredContent | undefined, key: ContentKey, owner: string): StoredContent {
  if (!stored) throw new StateStoreError('NOT_FOUND', `ledger: no entry for content ${key.contentId}`);
  if (stored.entry.claim?.owner !== owner) {
    throw new StateStoreError('CLAIM_LOST', `ledger: ${owner} no longer holds the claim on content ${key.contentId}`);
  }
  return stored;
}

export function decideRenew(stored: StoredContent | undefined, owner: string, leaseMs: number, now: number): Decision<boolean> {
  if (!stored || stored.entry.state !== 'enqueued' || stored.entry.claim?.owner !== owner) return { result: false };
  return { result: true, next: { ...stored, entry: { ...stored.entry, claim: { owner, until: now + leaseMs } } } };
}

export function decideProgress(stored: StoredContent | undefined, key: ContentKey, owner: string, sink: string, progress: SinkProgress): Decision<void> {
  const own = ownClaim(stored, key, owner);
  return { result: undefined, next: { ...own, entry: { ...own.entry, sinks: { ...own.entry.sinks, [sink]: { ...progress } } } } };
}

export function decideFinish(stored: StoredContent | undefined, key: ContentKey, owner: string, state: Exclude<ContentState, 'enqueued'>, end: BlobEnd): Decision<void> {
  // Finishing twice (a retried call whose first answer was lost) is not an error.
  if (stored && stored.entry.state !== 'enqueued') return { result: undefined };
  const own = ownClaim(stored, key, owner);
  const { detail: _previous, ...rest } = own.entry;
  const { detail, tally, progress } = end;
  const sinks = progress === undefined ? rest.sinks : { ...rest.sinks, ...progress };
  return { result: undefined, next: { ...own, entry: { ...rest, sinks, state, claim: null, ...(detail === undefined ? {} : { detail }), ...(tally === undefined ? {} : { tally }) } } };
}

export function decideRelease(stored: StoredContent | undefined, owner: string): Decision<void> {
  if (!stored || stored.entry.claim?.owner !== owner) return { result: undefined };
  return { result: undefined, next: { ...stored, entry: { ...stored.entry, claim: null } } };
}

export function decideLease(current: LeaseState | undefined, owner: string, leaseMs: number, now: number): { result: boolean; next?: LeaseState } {
  if (current && current.owner !== '' && current.owner !== owner && current.until > now) return { result: false };
  return { result: true, next: { owner, until: now + leaseMs } };
}

// ---- purge index: a content row's tenant and day, so purge takes a day of one tenant in batches, never scanning
// the content partitions by time. Written before the content row (an index row without its content is harmless;
// the reverse would never be purged). ----

export const expiryPartitionPrefix = 'expiry:';
/** The UTC day of an instant, as the index keys it (sorts as it reads). */
export const dayOf = (at: Date): string => at.toISOString().slice(0, 10);
export const expiryPartition = (day: string, tenantId: string): string => `${expiryPartitionPrefix}${day}:${encodeKey(tenantId)}`;

export function expiryRow({ entry, createdAt }: StoredContent): TableRow {
  return { partitionKey: expiryPartition(dayOf(createdAt), entry.tenantId), rowKey: contentRowKey(entry.contentId), tenantId: entry.tenantId, createdAt };
}

const ExpiryRow = z.object({ partitionKey: z.string(), rowKey: z.string(), tenantId: z.string() });
/** An index row as purge needs it: its own key and the content row it stands for. */
export function expiryFromRow(row: unknown): { index: { pk: string; rk: string }; content: { pk: string; rk: string } } {
  const r = parseRow(ExpiryRow, 'purge index', row);
  return { index: { pk: r.partitionKey, rk: r.rowKey }, content: { pk: contentPartition(r.tenantId), rk: r.rowKey } };
}

// ---- the keeper's subscription state, one row per tenant in one partition (health reads them all at once) ----

export const subscriptionPartition = 'subscriptions';

const SubscriptionRow = z.object({
  tenantId: z.string(),
  checkedAt: z.date(),
  streams: z.string().transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'streams is not JSON' });
      return z.NEVER;
    }
  }),
});

export function subscriptionSnapshotFromRow(row: unknown): SubscriptionSnapshot {
  const r = parseRow(SubscriptionRow, 'subscription state', row);
  return parseRow(SubscriptionSnapshot, 'subscription state', r);
}

export const subscriptionSnapshotToRow = (snapshot: SubscriptionSnapshot): TableRow => ({
  partitionKey: subscriptionPartition,
  rowKey: encodeKey(snapshot.tenantId),
  tenantId: snapshot.tenantId,
  checkedAt: snapshot.checkedAt,
  streams: JSON.stringify(snapshot.streams),
});
