// The queue message between the webhook (or the reconciler) and the content worker: one per content blob.
import { z } from 'zod';
import { ApiTime, parseApiTime } from '../api-time';
import { ContentType } from '../api/content-types';

export const ContentMessage = z.object({
  tenantId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  contentType: ContentType,
  contentId: z.string().min(1).max(1024),
  contentCreated: ApiTime,
  contentExpiration: ApiTime,
  /** How many times a waiting failure has re-enqueued this blob (for the growing delay). */
  waits: z.number().int().nonnegative().default(0),
  /** Fetches whose body arrived whole by HTTP's framing yet ended inside a record (see process-content.ts). */
  cutFetches: z.number().int().nonnegative().optional(),
  /**
   * Who put the blob on the queue, for the completeness receipt (`notified` is recorded at claim when it is the
   * webhook). Optional: messages queued before this field existed, and poison replays, carry none.
   */
  source: z.enum(['webhook', 'reconciler', 'replay']).optional(),
});
export type ContentMessage = z.infer<typeof ContentMessage>;
export type ContentMessageInput = z.input<typeof ContentMessage>;

export interface ContentKey {
  tenantId: string;
  contentId: string;
}

/**
 * A queue message the worker cannot take (not the shape above, or a time that is not an API time): deterministic,
 * so the host's retries end in the poison queue, where health counts it and a person can look at it. Never a
 * NaN delay, never a silent drop.
 */
export class ContentMessageError extends Error {
  override readonly name = 'ContentMessageError';
  readonly code = 'CONTENT_MESSAGE_INVALID';
  readonly retryable = false;
}

/** The message's times in epoch ms; a message that bypassed the schema with a bad time is refused, not guessed. */
export function contentMessageTimes(message: Pick<ContentMessage, 'contentCreated' | 'contentExpiration'>): { createdAt: number; expiresAt: number } {
  const createdAt = parseApiTime(message.contentCreated);
  const expiresAt = parseApiTime(message.contentExpiration);
  const bad = [createdAt === undefined && 'contentCreated', expiresAt === undefined && 'contentExpiration'].filter(Boolean);
  if (createdAt === undefined || expiresAt === undefined) throw new ContentMessageError(`not a content message: ${bad.join(', ')} is not an ISO 8601 date-time`);
  return { createdAt, expiresAt };
}
