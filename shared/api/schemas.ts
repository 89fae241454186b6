// Shapes of the API's answers (reference §2), parsed leniently: unknown fields pass, documented gaps (a missing
// subscription status, webhook null) are accepted. The webhook authId becomes a Secret the moment it is parsed.
import { z } from 'zod';
import { ApiTime } from '../api-time.js';
import { Secret } from './secret.js';

export const ErrorBody = z.object({
  error: z.object({ code: z.string().optional(), message: z.string().optional() }).loose(),
});

export const WebhookAnswer = z
  .object({
    status: z.string().optional(),
    address: z.string().optional(),
    authId: z
      .string()
      .nullish()
      .transform((v) => (v === null || v === undefined || v === '' ? null : new Secret(v))),
    expiration: z.string().nullish(),
  })
  .loose();

export const Subscription = z
  .object({
    contentType: z.string(),
    status: z.string().optional(),
    webhook: WebhookAnswer.nullish().transform((v) => v ?? null),
  })
  .loose();
export type Subscription = z.infer<typeof Subscription>;

export const SubscriptionList = z.array(Subscription);

/** One listed content blob; its times are read by the one API-time parser (an item with a bad time is refused). */
export const ContentItem = z
  .object({
    contentType: z.string(),
    contentId: z.string(),
    contentUri: z.string(),
    contentCreated: ApiTime,
    contentExpiration: ApiTime,
  })
  .loose();
export type ContentItem = z.infer<typeof ContentItem>;

export const NotificationItem = ContentItem.extend({
  notificationSent: z.string().optional(),
  notificationStatus: z.string().optional(),
}).loose();
export type NotificationItem = z.infer<typeof NotificationItem>;

/** What `start` takes: `authId` is echoed by the service as the Webhook-AuthID header on each notification. */
export const WebhookSpec = z.object({
  // https as the API requires; plain http only on loopback, for the local host and simulator (the settings
  // refuse it in Azure).
  address: z.url({ protocol: /^https?$/ }).refine((a) => a.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//.test(a), {
    error: 'must be https (plain http only on 127.0.0.1 or localhost)',
  }),
  authId: z.string().min(1).optional(),
  /** ISO date-time after which no more notifications are sent; null or absent for none. */
  expiration: z.string().nullable().optional(),
});
export type WebhookSpec = z.infer<typeof WebhookSpec>;
