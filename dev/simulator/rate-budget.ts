// Per-minute request budgets (reference §7): each tenant has its own budget when the caller sends
// PublisherIdentifier; callers without it share one smaller pool across all tenants, so they hit AF429 sooner.

export interface RateLimits {
  /** Requests per minute per tenant with PublisherIdentifier (doc baseline ≈ 2,000). */
  perTenantPerMinute: number;
  /** Requests per minute in the one shared pool for callers without PublisherIdentifier. */
  withoutPublisherPerMinute: number;
}

export const defaultRateLimits: RateLimits = { perTenantPerMinute: 2000, withoutPublisherPerMinute: 60 };

export class RateBudget {
  private readonly used = new Map<string, number>();

  constructor(private readonly limits: RateLimits) {}

  /** Counts one request; false when the budget of this minute (of the simulator's clock) is spent. */
  take(tenantId: string, hasPublisher: boolean, now: Date): boolean {
    const minute = Math.floor(now.getTime() / 60_000);
    const pool = hasPublisher ? `tenant:${tenantId}` : 'shared';
    const key = `${pool}@${minute}`;
    const count = (this.used.get(key) ?? 0) + 1;
    this.used.set(key, count);
    if (this.used.size > 1000) this.forgetBefore(minute);
    return count <= (hasPublisher ? this.limits.perTenantPerMinute : this.limits.withoutPublisherPerMinute);
  }

  private forgetBefore(minute: number): void {
    for (const key of this.used.keys()) if (Number(key.split('@')[1]) < minute) this.used.delete(key);
  }
}
