// The subscription keeper's job: per tenant and content type, look first and start only when the subscription is
// missing, disabled (if the operator opted in) or its webhook is not ours. A ledger lease keeps several instances
// from working at once, and the stored time of the last start keeps us outside the API's 15-minute restart rule.
// The webhook warm-up before the first start is a courtesy to a cold instance, never a gate: a start that meets a
// cold instance fails on its own and is retried at the next run, while skipping starts when our own call is refused
// (an inbound restriction answers it 403) would never start or restart anything.
import type { TenantFeed } from '../api/client';
import type { ContentType } from '../api/content-types';
import type { WebhookSpec } from '../api/schemas';
import { START_SPACING_MS } from '../api/start-guard';
import { ensureSubscription, type EnsureOutcome } from '../api/subscriptions';
import { errorFields, type Logger } from '../log';
import { noTelemetry, type Telemetry } from '../telemetry';
import type { Ledger } from './ledger';
import type { Subscription } from '../api/schemas';
import { snapshotOf, storedSubscriptionOf, type SubscriptionSnapshot } from './subscription-state';
import type { WarmUp } from './warm-webhook';

export interface KeeperDeps {
  ledger: Ledger;
  feed(tenantId: string): TenantFeed;
  tenants: ReadonlyArray<{ tenantId: string; contentTypes: readonly ContentType[] }>;
  webhook: WebhookSpec | undefined;
  restartDisabled: boolean;
  /** Calls our own webhook's validation path (warm-webhook.ts) so a cold instance is more likely to pass the handshake. */
  warmWebhook(): Promise<WarmUp>;
  now: () => Date;
  owner: string;
  /** The ledger lease held while keeping; one per tenant when the keeper fans out (default: one for all). */
  lease?: string;
  logger: Logger;
  /** A `subscription.changed` event for every start, restart or webhook update; `subscription.failed` for errors. */
  telemetry?: Telemetry;
}

export type KeeperResult =
  | { tenantId: string; contentType: ContentType; outcome: EnsureOutcome['state'] }
  | { tenantId: string; contentType: ContentType; outcome: 'skipped'; reason: string }
  | { tenantId: string; contentType: ContentType; outcome: 'failed'; error: string };

const leaseMs = 10 * 60_000;

const warmUpNotes: Record<Exclude<WarmUp['state'], 'warm'>, string> = {
  refused: 'our own warm-up call was refused (403, an inbound restriction); starting anyway: the API validates from its own addresses',
  answered: 'our webhook answered the warm-up call, but not with 200; starting anyway',
  silent: 'our webhook did not answer the warm-up call; starting anyway (a cold start may fail the handshake: retried next run)',
};

function reportWarmUp(warmUp: WarmUp, logger: Logger, telemetry: Telemetry): void {
  if (warmUp.state === 'warm') return;
  const { state, ...fields } = warmUp;
  logger.info(warmUpNotes[state], { warmUp: state, ...fields });
  telemetry.event('webhook.warmup', { state, ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)])) });
}

export async function keepSubscriptions(deps: KeeperDeps): Promise<KeeperResult[]> {
  const results: KeeperResult[] = [];
  const telemetry = deps.telemetry ?? noTelemetry;
  const lease = deps.lease ?? 'subscription-keeper';
  if (!(await deps.ledger.acquireLease(lease, deps.owner, leaseMs, deps.now().getTime()))) {
    deps.logger.info('another instance is keeping the subscriptions');
    return results;
  }
  try {
    let warmUp: WarmUp | undefined;
    for (const { tenantId, contentTypes } of deps.tenants) {
      // One list per tenant, stored for health (which then never asks the API), updated by what starts answer.
      const seen = tenantSubscriptions(deps, tenantId);
      // Listed every pass, even when every start is skipped (15-minute rule), so what health reads is this pass's.
      await seen.list().catch((err: unknown) => deps.logger.warn('could not list the subscriptions', { tenantId, ...errorFields(err) }));
      for (const contentType of contentTypes) {
        const lastStart = await deps.ledger.getLastStart(tenantId, contentType);
        if (lastStart && deps.now().getTime() - lastStart.getTime() < START_SPACING_MS) {
          results.push({ tenantId, contentType, outcome: 'skipped', reason: 'started less than 15 minutes ago' });
          continue;
        }
        if (deps.webhook && warmUp === undefined) {
          warmUp = await deps.warmWebhook();
          reportWarmUp(warmUp, deps.logger, telemetry);
        }
        try {
          const outcome = await ensureSubscription(deps.feed(tenantId), contentType, {
            webhook: deps.webhook,
            restartDisabled: deps.restartDisabled,
            logger: deps.logger,
            listed: await seen.list(),
          });
          if (outcome.changed) seen.started(contentType, outcome.subscription);
          if (outcome.changed) {
            await deps.ledger.setLastStart(tenantId, contentType, deps.now());
            telemetry.event('subscription.changed', { tenantId, contentType, outcome: outcome.state });
          } else if (outcome.state === 'disabled') {
            telemetry.event('subscription.disabled', { tenantId, contentType });
          }
          results.push({ tenantId, contentType, outcome: outcome.state });
        } catch (err) {
          deps.logger.error('could not keep the subscription', { tenantId, contentType, ...errorFields(err) });
          results.push({ tenantId, contentType, outcome: 'failed', error: err instanceof Error ? err.message : String(err) });
          telemetry.event('subscription.failed', { tenantId, contentType, code: String((err as { code?: unknown }).code ?? 'unknown') });
        }
      }
      await seen.store();
    }
  } finally {
    await deps.ledger.releaseLease(lease, deps.owner);
  }
  return results;
}

/**
 * The tenant's subscription list for one keeper pass: listed at most once (only when a content type is checked),
 * changed by what starts answered, and stored when the pass ends (a failed store is logged: health then shows the
 * previous state with its age).
 */
function tenantSubscriptions(deps: KeeperDeps, tenantId: string) {
  let listing: Promise<Subscription[]> | undefined;
  let snapshot: SubscriptionSnapshot | undefined;
  return {
    list: (): Promise<Subscription[]> =>
      (listing ??= deps.feed(tenantId).listSubscriptions().then((list) => {
        snapshot = snapshotOf(tenantId, list, deps.now());
        return list;
      })),
    started(contentType: ContentType, subscription: Subscription | null): void {
      // A start that answered no subscription (already enabled) leaves the listed state as it was.
      if (snapshot && subscription) snapshot.streams[contentType] = storedSubscriptionOf(subscription);
    },
    async store(): Promise<void> {
      if (!snapshot) return;
      try {
        await deps.ledger.setSubscriptionSnapshot(snapshot);
      } catch (err) {
        deps.logger.warn('could not store the subscription state for health', { tenantId, ...errorFields(err) });
      }
    },
  };
}
