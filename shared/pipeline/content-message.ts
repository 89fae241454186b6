// The queue message between the webhook (or the reconciler) and the content worker: one per content blob.
import { z } from 'zod';
import { ContentType } from '../api/content-types';

export const ContentMessage = z.object({
  tenantId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  contentType: ContentType,
  contentId: z.string().min(1).max(1024),
  contentCreated: z.string(),
  contentExpiration: z.string(),
  /** How many times a waiting failure has re-enqueued this blob (for the growing delay). */
  waits: z.number().int().nonnegative().default(0),
});
export type ContentMessage = z.infer<typeof ContentMessage>;
export type ContentMessageInput = z.input<typeof ContentMessage>;

export interface ContentKey {
  tenantId: string;
  contentId: string;
}
