// What the relay remembers per content blob and per stream, behind a small interface so the pipeline stays
// free of storage SDKs. The implementation (Azure Table storage, ETag-guarded) lives in shared/state/.
import type { ContentType } from '../api/content-types';
import type { ContentKey, ContentMessage } from './content-message';
import type { SubscriptionSnapshot } from './subscription-state';
import type { PlanState } from './reconcile-plan';

/** How long the ledger keeps a content row: the API forgets content after 7 days, the keeper purges after 8. */
export const contentKeptMs = 8 * 86_400_000;

/**
 * `delivered-with-problems`: the good records went through; some spans of the blob were not records (kept in the
 * dead letter with their byte offsets). `refused`: a listed item the relay will not fetch (foreign or unreadable).
 */
export type ContentState = 'enqueued' | 'delivered' | 'delivered-with-problems' | 'expired' | 'dead-lettered' | 'refused';

export interface SinkProgress {
  /** Records (after filtering, in blob order) the sink has accepted; a retry resumes after them. */
  accepted: number;
  done: boolean;
  /** Of `accepted`, records that went to the dead letter for this sink instead (rejected for good, or near expiry). */
  deadLettered?: number | undefined;
}

/** What the worker saw of a blob when it ended its story, for the completeness receipt. */
export interface BlobTally {
  /** The sinks that should have the blob, decided at processing time (routing may change later). */
  targets: string[];
  /** Records of the blob (own tenant and foreign) and those the filter dropped; absent when never fetched. */
  records?: number | undefined;
  filtered?: number | undefined;
}

/** What a finish stores besides the state. */
export interface BlobEnd {
  detail?: string | undefined;
  /** Kept for the completeness receipt. */
  tally?: BlobTally | undefined;
  /** The sinks' final progress, written with the state in one write (not a recordProgress before it). */
  progress?: Readonly<Record<string, SinkProgress>> | undefined;
}

export interface ContentEntry extends ContentKey {
  contentType: ContentType;
  contentCreated: string;
  contentExpiration: string;
  state: ContentState;
  /** A worker's claim: others wait until `until` (epoch ms) has passed. */
  claim: { owner: string; until: number } | null;
  sinks: Record<string, SinkProgress>;
  /** Claims taken so far. */
  attempts: number;
  detail?: string | undefined;
  /** The reconciler saw it in a listing (the API's own view); absent on rows of older versions. */
  listed?: boolean | undefined;
  /** A webhook notification for it reached the worker. */
  notified?: boolean | undefined;
  tally?: BlobTally | undefined;
}

export type ClaimResult =
  | { kind: 'claimed'; entry: ContentEntry }
  /** Another worker holds a live claim. */
  | { kind: 'held'; until: number }
  /** Nothing left to do: delivered, expired or dead-lettered. */
  | { kind: 'finished'; entry: ContentEntry };

/**
 * A listed item the relay refuses, as the ledger keeps it: under its own contentId when it has a readable one,
 * else under a key made from its raw JSON, so the overlap listing it again finds it known.
 */
export interface RefusedEntry extends ContentKey {
  /** The stream it was listed in (not what the item says). */
  contentType: ContentType;
  /** The item's times when they are API times, else ''. */
  contentCreated: string;
  contentExpiration: string;
  reason: string;
}

/** A stream's stored instants; the cursor is also when the reconciler last finished a listing. */
export interface StreamStatus {
  cursor?: Date | undefined;
  lastStart?: Date | undefined;
  lastNotification?: Date | undefined;
  /** Fan-out reconcile (reconcile-plan.ts): when the last plan was opened, and when the last plan finished. */
  plannedAt?: Date | undefined;
  lastReconciled?: Date | undefined;
  /** Refused listed items recorded for the stream, and when the last one was (refused-count.ts reads them). */
  refusedCount?: number | undefined;
  lastRefusedAt?: Date | undefined;
}

/** One stream's row as the all-streams query reads it. */
export interface StreamRecord extends StreamStatus {
  tenantId: string;
  contentType: ContentType;
}

/** A stream row that does not parse: its key, the stream its own columns name when they can be read, and why. */
export interface OddStreamRow {
  key: string;
  tenantId?: string | undefined;
  contentType?: string | undefined;
  problem: string;
}

export interface Ledger {
  /** Records blobs as enqueued unless known; returns the ones that were not known (insert-if-absent per id). */
  markSeen(messages: readonly ContentMessage[]): Promise<ContentMessage[]>;
  /**
   * Flags known blobs as listed by the reconciler, writing only those not flagged yet (ids it does not know are
   * left alone: markSeen inserts fresh ones already flagged).
   */
  markListed(tenantId: string, contentIds: readonly string[]): Promise<number>;
  /** The ids among `contentIds` of one tenant that the ledger knows, in any state. */
  known(tenantId: string, contentIds: readonly string[]): Promise<Set<string>>;
  /**
   * Records refused listed items (state `refused`, the reason as detail) unless known, insert-if-absent per key,
   * and adds the new ones to their stream row's refused count (refused-count.ts); returns the ones that were not known.
   */
  markRefused(entries: readonly RefusedEntry[]): Promise<RefusedEntry[]>;
  get(key: ContentKey): Promise<ContentEntry | undefined>;
  /** Takes the blob for `owner` until now + leaseMs, creating the entry if absent. */
  claim(message: ContentMessage, owner: string, leaseMs: number, now: number): Promise<ClaimResult>;
  /** Extends the owner's claim; false when the claim was lost. */
  renewClaim(key: ContentKey, owner: string, leaseMs: number, now: number): Promise<boolean>;
  recordProgress(key: ContentKey, owner: string, sink: string, progress: SinkProgress): Promise<void>;
  /** Ends the blob's story (and the claim). */
  finish(key: ContentKey, owner: string, state: Exclude<ContentState, 'enqueued'>, end?: BlobEnd): Promise<void>;
  /** Gives the claim up so another attempt can take it at once. */
  release(key: ContentKey, owner: string): Promise<void>;

  getCursor(tenantId: string, contentType: ContentType): Promise<Date | undefined>;
  setCursor(tenantId: string, contentType: ContentType, cursor: Date): Promise<void>;
  getLastStart(tenantId: string, contentType: ContentType): Promise<Date | undefined>;
  setLastStart(tenantId: string, contentType: ContentType, at: Date): Promise<void>;
  /** When the webhook last accepted a notification for the stream (for health; best-effort). */
  setLastNotification(tenantId: string, contentType: ContentType, at: Date): Promise<void>;
  /** Everything stored for one stream, in one read. */
  getStream(tenantId: string, contentType: ContentType): Promise<StreamStatus>;
  /**
   * Every stream row of every tenant in one paged range query (health, every 5 min: not a read per stream). A row
   * that does not parse costs only itself: it is returned in `odd`, the rows around it are read.
   */
  allStreams(): Promise<{ streams: StreamRecord[]; odd: OddStreamRow[] }>;

  /** A named lease (e.g. the subscription keeper's): true when `owner` holds it until now + leaseMs. */
  acquireLease(name: string, owner: string, leaseMs: number, now: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;

  /**
   * Removes content entries older than `before` (the API forgets content after 7 days), a tenant's day at a time in
   * batches of at most 100, and at most `maxRows` per call (the rest at the next call); returns how many went.
   */
  purge(before: Date, options?: PurgeOptions): Promise<number>;

  // ---- subscription state as the keeper last saw it (health reads it instead of asking the API) ----

  /** Replaces the tenant's stored subscription state. */
  setSubscriptionSnapshot(snapshot: SubscriptionSnapshot): Promise<void>;
  /** Every tenant's stored subscription state, by tenant id. */
  subscriptionSnapshots(): Promise<Map<string, SubscriptionSnapshot>>;

  // Fan-out reconcile plans, one per stream, in the stream's row (reconcile-plan.ts decides, the ETag guards).
  /** Opens plan `planId` for the stream unless a live plan holds it; true when opened. */
  openPlan(tenantId: string, contentType: ContentType, planId: string, now: Date): Promise<boolean>;
  /** The stream's plan (if one was ever opened) and its cursor, in one read: a reconcile step needs both. */
  readPlan(tenantId: string, contentType: ContentType): Promise<{ plan: PlanState | undefined; cursor: Date | undefined }>;
  /**
   * Moves plan `planId` past `step` and stores `cursor` in the same write; `done` finishes the plan (and sets
   * lastReconciled). False, writing nothing, when `step` is not the plan's current one (a duplicate message).
   */
  advancePlan(tenantId: string, contentType: ContentType, planId: string, step: number, cursor: Date, done: boolean, now: Date): Promise<boolean>;
}

export interface PurgeOptions {
  /** Most entries one call deletes. Default 50,000 (about 1,500 storage requests). */
  maxRows?: number | undefined;
}
