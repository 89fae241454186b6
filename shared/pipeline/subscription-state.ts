// The subscriptions of a tenant as the keeper last saw them: stored once per tenant when it lists them, so health
// reads the ledger instead of spending the tenant's API budget on every probe of every stream.
import { z } from 'zod';
import type { Subscription } from '../api/schemas';
import type { SubscriptionView } from './health';

export const StoredSubscription = z.object({
  status: z.string().nullable(),
  webhookStatus: z.string().nullable(),
  webhookAddress: z.string().nullable(),
});
export type StoredSubscription = z.infer<typeof StoredSubscription>;

export const SubscriptionSnapshot = z.object({
  tenantId: z.string(),
  checkedAt: z.date(),
  /** By content type: what the API's list said, or what a start answered since. A type absent here is not subscribed. */
  streams: z.record(z.string(), StoredSubscription),
});
export type SubscriptionSnapshot = z.infer<typeof SubscriptionSnapshot>;

export const storedSubscriptionOf = (sub: Subscription): StoredSubscription => ({
  status: sub.status ?? null,
  webhookStatus: sub.webhook?.status ?? null,
  webhookAddress: sub.webhook?.address ?? null,
});

export function snapshotOf(tenantId: string, list: readonly Subscription[], checkedAt: Date): SubscriptionSnapshot {
  return { tenantId, checkedAt, streams: Object.fromEntries(list.map((sub) => [sub.contentType, storedSubscriptionOf(sub)])) };
}

/** What health makes of the stored state of one stream; a tenant the keeper never stored is `unknown`. */
export function viewOfSnapshot(snapshot: SubscriptionSnapshot | undefined, contentType: string): SubscriptionView {
  if (snapshot === undefined) return { kind: 'unknown', error: 'not yet checked by the subscription keeper' };
  const stored = Object.hasOwn(snapshot.streams, contentType) ? snapshot.streams[contentType] : undefined;
  if (stored === undefined) return { kind: 'missing', checkedAt: snapshot.checkedAt };
  return { kind: 'listed', ...stored, checkedAt: snapshot.checkedAt };
}
