// The relay's health as one pure decision: what the probes measured (subscriptions, stream instants, queue and
// dead-letter counts) in, a status (ok / degraded / failing) with every reason out. Thresholds and the meaning
// of each subscription state are data, so an operator's view of "bad" is changed in one table.
import type { ContentType } from '../api/content-types';
import { overdueStreams } from './reconcile-plan';

export type HealthLevel = 'ok' | 'degraded' | 'failing';

/**
 * What the API's subscription list says about one stream; `unknown` when the list could not be read. `checkedAt`:
 * when the list was read, if it was stored (the keeper's state) rather than asked for now.
 */
export type SubscriptionView =
  | { kind: 'listed'; status: string | null; webhookStatus: string | null; webhookAddress: string | null; checkedAt?: Date | undefined }
  | { kind: 'missing'; checkedAt?: Date | undefined }
  | { kind: 'unknown'; error: string };

export interface StreamProbe {
  tenantId: string;
  contentType: ContentType;
  subscription: SubscriptionView;
  cursor?: Date | undefined;
  lastStart?: Date | undefined;
  lastNotification?: Date | undefined;
  /** Listed items the reconciler refused and the ledger still keeps (7 days); undefined when not probed. */
  refused?: number | undefined;
  /** When the stream's last reconcile plan finished, and when its last plan was opened (fan-out). */
  lastReconciled?: Date | undefined;
  plannedAt?: Date | undefined;
}

export interface HealthProbe {
  now: Date;
  /** Whether a webhook is configured: without one, notifications are not expected. */
  webhookConfigured: boolean;
  streams: readonly StreamProbe[];
  /** Approximate message counts; undefined when the probe failed (named in `probeErrors`). */
  queueBacklog?: number | undefined;
  poisonCount?: number | undefined;
  deadLetterCount?: number | undefined;
  probeErrors: readonly string[];
}

export interface Band {
  degraded: number;
  failing: number;
}

export interface HealthThresholds {
  /** now − the stream's newest sign of life (reconcile cursor, else subscription start). */
  reconcileLagMs: Band;
  queueBacklog: Band;
  poisonCount: Band;
  deadLetterCount: Band;
  /** Refused listed items of one stream: content the relay will not fetch without a person looking. */
  refusedItems: Band;
  /** now − when the stored subscription state was read from the API (the keeper runs hourly). */
  subscriptionStateAgeMs: Band;
  /** The reconcile timer's interval (O365_RECONCILE_SCHEDULE): a stream whose plan missed two of them is named. */
  reconcileIntervalMs: number;
}

export const defaultThresholds: HealthThresholds = {
  // The reconciler runs every 10 minutes: three missed runs is worth a look, six hours risks the 7-day window less
  // than it risks a blind spot nobody notices.
  reconcileLagMs: { degraded: 30 * 60_000, failing: 6 * 60 * 60_000 },
  queueBacklog: { degraded: 5_000, failing: 50_000 },
  // A poison message is content that will not be delivered without a person: never merely ok.
  poisonCount: { degraded: 1, failing: 100 },
  deadLetterCount: { degraded: 1, failing: 10_000 },
  // Each one is kept (ledger, dead letter) and costs only itself: worth a look, never failing by itself.
  refusedItems: { degraded: 1, failing: Number.POSITIVE_INFINITY },
  // Three missed keeper runs: what health says about the subscriptions may no longer be true.
  subscriptionStateAgeMs: { degraded: 3 * 60 * 60_000, failing: Number.POSITIVE_INFINITY },
  // The default schedule (every 10 minutes); functions/health.ts derives nothing from NCRONTAB, so keep them in step.
  reconcileIntervalMs: 10 * 60_000,
};

/** What each subscription state means for the stream (a disabled subscription lists no content: data stops). */
export const subscriptionLevels: Record<'missing' | 'disabled' | 'unknown' | 'webhook-disabled' | 'webhook-missing', HealthLevel> = {
  missing: 'failing',
  disabled: 'failing',
  unknown: 'degraded',
  // The reconciler still finds the content, only later: degraded, not failing.
  'webhook-disabled': 'degraded',
  'webhook-missing': 'degraded',
};

export interface StreamHealth {
  tenantId: string;
  contentType: ContentType;
  status: HealthLevel;
  reasons: string[];
  subscription: { status: string | null; webhookStatus: string | null } | null;
  /** When the subscription state shown was read from the API (null: asked for now, or not known). */
  subscriptionCheckedAt: string | null;
  lastNotification: string | null;
  lastReconcile: string | null;
  cursor: string | null;
  reconcileLagMs: number | null;
  notificationAgeMs: number | null;
  /** Refused listed items kept for the stream (null when not probed). */
  refused: number | null;
}

export interface HealthReport {
  status: HealthLevel;
  reasons: string[];
  checkedAt: string;
  queue: { backlog: number | null; poison: number | null };
  deadLetter: { count: number | null };
  streams: StreamHealth[];
}

const rank: Record<HealthLevel, number> = { ok: 0, degraded: 1, failing: 2 };
const worst = (levels: readonly HealthLevel[]): HealthLevel => levels.reduce<HealthLevel>((a, b) => (rank[b] > rank[a] ? b : a), 'ok');
const bandLevel = (value: number, band: Band): HealthLevel => (value >= band.failing ? 'failing' : value >= band.degraded ? 'degraded' : 'ok');
const iso = (d: Date | undefined) => d?.toISOString() ?? null;

/** The counters checked against their bands, with how each is named in a reason. */
const counters: ReadonlyArray<{ key: 'queueBacklog' | 'poisonCount' | 'deadLetterCount'; says: (n: number) => string }> = [
  { key: 'queueBacklog', says: (n) => `${n} message(s) waiting in the content queue` },
  { key: 'poisonCount', says: (n) => `${n} poison message(s): content that failed every attempt` },
  { key: 'deadLetterCount', says: (n) => `${n} dead-letter entr(y/ies) waiting for re-delivery` },
];

type Finding = { level: HealthLevel; reason: string };

function streamHealth(s: StreamProbe, probe: HealthProbe, thresholds: HealthThresholds): { health: StreamHealth; findings: Finding[] } {
  const findings: Finding[] = [];
  const sub = s.subscription;
  if (sub.kind === 'missing') findings.push({ level: subscriptionLevels.missing, reason: 'no subscription' });
  else if (sub.kind === 'unknown') findings.push({ level: subscriptionLevels.unknown, reason: `subscription list unavailable: ${sub.error}` });
  else {
    if (sub.status?.toLowerCase() === 'disabled') findings.push({ level: subscriptionLevels.disabled, reason: 'subscription disabled' });
    if (probe.webhookConfigured) {
      if (sub.webhookStatus === null) findings.push({ level: subscriptionLevels['webhook-missing'], reason: 'subscription has no webhook' });
      else if (sub.webhookStatus.toLowerCase() === 'disabled') findings.push({ level: subscriptionLevels['webhook-disabled'], reason: 'webhook disabled by the API' });
    }
  }
  const checkedAt = sub.kind === 'unknown' ? undefined : sub.checkedAt;
  if (checkedAt !== undefined) {
    const age = Math.max(0, probe.now.getTime() - checkedAt.getTime());
    const level = bandLevel(age, thresholds.subscriptionStateAgeMs);
    if (level !== 'ok') findings.push({ level, reason: `subscription state last checked ${Math.round(age / 60_000)} min ago` });
  }
  const sign = s.cursor ?? s.lastStart;
  const reconcileLagMs = sign ? Math.max(0, probe.now.getTime() - sign.getTime()) : null;
  if (reconcileLagMs === null) findings.push({ level: 'degraded', reason: 'never reconciled nor subscribed' });
  else {
    const level = bandLevel(reconcileLagMs, thresholds.reconcileLagMs);
    if (level !== 'ok') findings.push({ level, reason: `not reconciled for ${Math.round(reconcileLagMs / 60_000)} min` });
  }
  if (overdueStreams([s], probe.now, thresholds.reconcileIntervalMs).length > 0) {
    const since = s.lastReconciled ?? s.plannedAt;
    findings.push({ level: 'degraded', reason: `missed two reconcile intervals (${s.lastReconciled ? 'last plan finished' : 'first plan opened, never finished'} ${since!.toISOString()})` });
  }
  if (s.refused !== undefined) {
    const level = bandLevel(s.refused, thresholds.refusedItems);
    if (level !== 'ok') findings.push({ level, reason: `${s.refused} listed item(s) refused, not fetched (ledger state refused; raw items in the dead letter)` });
  }
  const health: StreamHealth = {
    tenantId: s.tenantId,
    contentType: s.contentType,
    status: worst(findings.map((f) => f.level)),
    reasons: findings.map((f) => f.reason),
    subscription: sub.kind === 'listed' ? { status: sub.status, webhookStatus: sub.webhookStatus } : null,
    subscriptionCheckedAt: iso(checkedAt),
    lastNotification: iso(s.lastNotification),
    lastReconcile: iso(s.cursor),
    cursor: iso(s.cursor),
    reconcileLagMs,
    notificationAgeMs: s.lastNotification ? Math.max(0, probe.now.getTime() - s.lastNotification.getTime()) : null,
    refused: s.refused ?? null,
  };
  return { health, findings };
}

export function assessHealth(probe: HealthProbe, thresholds: HealthThresholds = defaultThresholds): HealthReport {
  const assessed = probe.streams.map((s) => streamHealth(s, probe, thresholds));
  const findings: Finding[] = assessed.flatMap(({ health, findings: own }) =>
    own.map((f) => ({ level: f.level, reason: `${health.tenantId}/${health.contentType}: ${f.reason}` })));
  for (const { key, says } of counters) {
    const value = probe[key];
    if (value === undefined) continue;
    const level = bandLevel(value, thresholds[key]);
    if (level !== 'ok') findings.push({ level, reason: says(value) });
  }
  // A probe that failed hides what it measures: that alone is degraded.
  for (const error of probe.probeErrors) findings.push({ level: 'degraded', reason: error });
  findings.sort((a, b) => rank[b.level] - rank[a.level]);
  return {
    status: worst(findings.map((f) => f.level)),
    reasons: findings.map((f) => f.reason),
    checkedAt: probe.now.toISOString(),
    queue: { backlog: probe.queueBacklog ?? null, poison: probe.poisonCount ?? null },
    deadLetter: { count: probe.deadLetterCount ?? null },
    streams: assessed.map((a) => a.health),
  };
}
