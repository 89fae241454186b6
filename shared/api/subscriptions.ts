// Keeping a subscription enabled, by looking before starting: enabled → nothing (or a webhook update), none →
// one start, disabled by an admin → reported, and restarted only when the operator opted in.
import type { Logger } from '../log.js';
import type { CallOptions, TenantFeed } from './client.js';
import type { ContentType } from './content-types.js';
import type { Subscription, WebhookSpec } from './schemas.js';

export type EnsureOutcome =
  | { state: 'enabled'; changed: false }
  | { state: 'started'; changed: true; subscription: Subscription | null }
  | { state: 'webhook-updated'; changed: true; subscription: Subscription | null }
  | { state: 'restarted'; changed: true; subscription: Subscription | null }
  /** Disabled by an admin and not restarted (O365_RESTART_DISABLED_SUBSCRIPTIONS is off). */
  | { state: 'disabled'; changed: false };

export interface EnsureOptions extends CallOptions {
  webhook?: WebhookSpec | undefined;
  restartDisabled: boolean;
  logger?: Logger | undefined;
  /** The tenant's subscriptions as just listed (one list for all its content types); listed here when absent. */
  listed?: readonly Subscription[] | undefined;
}

function webhookNeedsUpdate(current: Subscription, wanted: WebhookSpec | undefined): boolean {
  if (wanted === undefined) return false;
  const hook = current.webhook;
  if (hook === null) return true;
  if (hook.status !== undefined && hook.status !== 'enabled') return true; // disabled after failures, or expired
  if (hook.address !== wanted.address) return true;
  const currentAuth = hook.authId?.reveal();
  return (currentAuth ?? undefined) !== wanted.authId;
}

export async function ensureSubscription(feed: TenantFeed, contentType: ContentType, options: EnsureOptions): Promise<EnsureOutcome> {
  const { webhook, restartDisabled, logger, listed, ...call } = options;
  const current = (listed ?? (await feed.listSubscriptions(call))).find((s) => s.contentType === contentType);
  const start = async () => {
    const result = await feed.startSubscription(contentType, webhook, call);
    return result.outcome === 'started' ? result.subscription : null;
  };
  if (current === undefined) {
    return { state: 'started', changed: true, subscription: await start() };
  }
  // The docs' own sample omits status on some entries; only an explicit "disabled" counts as disabled.
  if (current.status === 'disabled') {
    logger?.warn('subscription is disabled by an admin', { tenantId: feed.tenantId, contentType, restartDisabled });
    if (!restartDisabled) return { state: 'disabled', changed: false };
    return { state: 'restarted', changed: true, subscription: await start() };
  }
  if (webhookNeedsUpdate(current, webhook)) {
    return { state: 'webhook-updated', changed: true, subscription: await start() };
  }
  return { state: 'enabled', changed: false };
}
