// Subscription state per (tenant, content type) and the rules of /subscriptions/start (reference §2.1): what a
// start request changes, when it is a no-op (AF20024), and the 15-minute spacing between starts.
import { apiError, type ApiError } from './errors.js';
import type { ContentType, StartBody, SubscriptionView } from './request-shapes.js';
import { contentTypes } from './request-shapes.js';
import { parseApiTime } from './time-window.js';
import { webhookAddressProblem } from './webhook-post.js';

export type DisabledBy = 'stopped' | 'tenantAdmin' | 'serviceAdmin';

export interface WebhookState {
  address: string;
  authId?: string;
  /** As the caller wrote it; null when none ("" in the request). */
  expiration: string | null;
  expiresAt?: Date;
  /** Disabled by the service after repeated delivery failures. */
  disabled: boolean;
}

export interface SubscriptionState {
  contentType: ContentType;
  enabled: boolean;
  disabledBy?: DisabledBy;
  webhook: WebhookState | null;
  /** The app that (last) started it; named as clientId in notifications. */
  clientId: string;
  lastStartAt?: Date;
}

export function webhookStatus(webhook: WebhookState, now: Date): 'enabled' | 'disabled' | 'expired' {
  if (webhook.expiresAt && webhook.expiresAt.getTime() <= now.getTime()) return 'expired';
  return webhook.disabled ? 'disabled' : 'enabled';
}

export function subscriptionView(s: SubscriptionState, now: Date): SubscriptionView {
  return {
    contentType: s.contentType,
    status: s.enabled ? 'enabled' : 'disabled',
    webhook: s.webhook
      ? {
          status: webhookStatus(s.webhook, now),
          address: s.webhook.address,
          ...(s.webhook.authId === undefined ? {} : { authId: s.webhook.authId }),
          expiration: s.webhook.expiration,
        }
      : null,
  };
}

/** True when notifications should go out for this subscription right now. */
export function deliversNotifications(s: SubscriptionState | undefined, now: Date): s is SubscriptionState & { webhook: WebhookState } {
  return !!s && s.enabled && !!s.webhook && webhookStatus(s.webhook, now) === 'enabled';
}

export type StartPlan = { ok: false; error: ApiError } | { ok: true; webhook: WebhookState | null };

const offsetTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$/;

function parseExpiration(text: string): Date | undefined {
  return parseApiTime(text) ?? (offsetTime.test(text) && !Number.isNaN(Date.parse(text)) ? new Date(text) : undefined);
}

function sameWebhook(a: WebhookState | null, b: WebhookState | null): boolean {
  if (a === null || b === null) return a === b;
  return a.address === b.address && a.authId === b.authId && (a.expiresAt?.getTime() ?? null) === (b.expiresAt?.getTime() ?? null);
}

export interface StartRules {
  /** Minutes a caller must wait between starts of one subscription; 0 turns the rule off. */
  spacingMinutes: number;
}

/**
 * Decides a /start request without side effects. Order: webhook checks (AF20021/AF20002/AF20003), then
 * "nothing would change" (AF20024), then the start spacing (AF429). A start that changes nothing is not
 * counted as a start, so a client that re-starts an enabled subscription learns "already enabled".
 */
export function planStart(current: SubscriptionState | undefined, body: StartBody, now: Date, rules: StartRules, publisherId: string): StartPlan {
  let webhook: WebhookState | null = null;
  if (body.webhook) {
    const problem = webhookAddressProblem(body.webhook.address);
    if (problem) return { ok: false, error: apiError('AF20021', body.webhook.address, problem) };
    const raw = body.webhook.expiration ?? '';
    let expiresAt: Date | undefined;
    if (raw !== '') {
      expiresAt = parseExpiration(raw);
      if (!expiresAt) return { ok: false, error: apiError('AF20002', 'expiration', 'datetime') };
      if (expiresAt.getTime() <= now.getTime()) return { ok: false, error: apiError('AF20003', raw) };
    }
    webhook = {
      address: body.webhook.address,
      ...(body.webhook.authId === undefined ? {} : { authId: body.webhook.authId }),
      expiration: raw === '' ? null : raw,
      ...(expiresAt ? { expiresAt } : {}),
      disabled: false,
    };
  }
  const currentWebhookLive = current?.webhook ? webhookStatus(current.webhook, now) === 'enabled' : true;
  if (current?.enabled && currentWebhookLive && sameWebhook(current.webhook, webhook)) return { ok: false, error: apiError('AF20024') };
  if (rules.spacingMinutes > 0 && current?.lastStartAt && now.getTime() - current.lastStartAt.getTime() < rules.spacingMinutes * 60_000) {
    return { ok: false, error: apiError('AF429', 'StartSubscription', publisherId) };
  }
  return { ok: true, webhook };
}

export class SubscriptionBook {
  private readonly byTenant = new Map<string, Map<ContentType, SubscriptionState>>();

  get(tenantId: string, contentType: ContentType): SubscriptionState | undefined {
    return this.byTenant.get(tenantId)?.get(contentType);
  }

  set(tenantId: string, state: SubscriptionState): void {
    let forTenant = this.byTenant.get(tenantId);
    if (!forTenant) this.byTenant.set(tenantId, (forTenant = new Map()));
    forTenant.set(state.contentType, state);
  }

  /** In the documented content-type order. */
  list(tenantId: string): SubscriptionState[] {
    const forTenant = this.byTenant.get(tenantId);
    return contentTypes.flatMap((ct) => {
      const s = forTenant?.get(ct);
      return s ? [s] : [];
    });
  }
}
