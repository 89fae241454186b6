// What the webhook does with one POST, without Azure types: check the sender, tell a validation handshake from a
// notification batch, check every item, and hand the valid ones to the queue. The API retries anything but 200
// and may disable a webhook that keeps failing, so one bad item never fails the batch: it is counted and dropped.
import { z } from 'zod';
import { ApiTime } from '../api-time';
import { ContentType, contentTypeNamedBy } from '../api/content-types';
import { contentIdFromUri, isGuid } from '../api/feed-url';
import type { ContentMessage } from './content-message';
import { noTelemetry, type Telemetry } from '../telemetry';
import { matchAuthId, type WebhookAuthId } from './webhook-auth';

export interface WebhookPolicy {
  /** Our app registration: notifications for other apps are not ours. */
  clientId: string;
  /** Configured tenants and the content types subscribed for each. */
  tenants: ReadonlyMap<string, ReadonlySet<ContentType>>;
  authIds: readonly WebhookAuthId[];
  /** Origin of the cloud's API (e.g. https://manage.office.com): contentUris must be on it. */
  apiOrigin: string;
  maxBodyBytes: number;
}

export interface WebhookRequest {
  header(name: string): string | null | undefined;
  /** Reads the raw body: called only for a caller with a right authId whose declared Content-Length fits. */
  body(): Promise<Uint8Array>;
}

export type RejectReason = 'shape' | 'tenant' | 'clientId' | 'contentType' | 'contentUri' | 'authId-tenant';

export interface WebhookAnswer {
  status: 200 | 400 | 401 | 413 | 503;
  body: { accepted?: number; rejected?: Partial<Record<RejectReason, number>>; validated?: true; error?: string };
}

/** One notification item (reference §4); unknown fields pass. Times are read by the one API-time parser. */
export const NotificationItem = z.looseObject({
  tenantId: z.string(),
  clientId: z.string(),
  contentType: z.string(),
  contentId: z.string(),
  contentUri: z.string(),
  contentCreated: ApiTime,
  contentExpiration: ApiTime,
});

export type Enqueue = (messages: ContentMessage[]) => Promise<void>;

/** A handshake is an object (or a header with a body that is not an array): an array is notifications, whatever the headers. */
export function isValidationRequest(request: WebhookRequest, parsed: unknown): boolean {
  if (Array.isArray(parsed)) return false;
  const header = request.header('webhook-validationcode');
  if (header !== null && header !== undefined && header !== '') return true;
  return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && 'validationCode' in parsed;
}

function checkItem(item: unknown, policy: WebhookPolicy, allowedTenants: ReadonlySet<string> | undefined): ContentMessage | RejectReason {
  const parsed = NotificationItem.safeParse(item);
  if (!parsed.success) return 'shape';
  const n = parsed.data;
  const tenantId = n.tenantId.toLowerCase();
  const contentTypes = isGuid(tenantId) ? policy.tenants.get(tenantId) : undefined;
  if (!contentTypes) return 'tenant';
  if (allowedTenants && !allowedTenants.has(tenantId)) return 'authId-tenant';
  if (n.clientId.toLowerCase() !== policy.clientId.toLowerCase()) return 'clientId';
  const contentType = ContentType.safeParse(n.contentType);
  if (!contentType.success || !contentTypes.has(contentType.data)) return 'contentType';
  const guarded = contentIdFromUri(n.contentUri, policy.apiOrigin, tenantId);
  if (!guarded.ok || guarded.contentId !== n.contentId) return 'contentUri';
  const named = contentTypeNamedBy(guarded.contentId);
  if (named !== undefined && named !== contentType.data) return 'contentType';
  return { tenantId, contentType: contentType.data, contentId: guarded.contentId, contentCreated: n.contentCreated, contentExpiration: n.contentExpiration, waits: 0, source: 'webhook' };
}

/**
 * Counts what the webhook received and refused. Refusals carry only the reason: their tenant and content type are
 * whatever the sender wrote, and a forger must not be able to mint metric dimensions.
 */
export async function acceptWebhookRequest(request: WebhookRequest, policy: WebhookPolicy, enqueue: Enqueue, telemetry: Telemetry = noTelemetry): Promise<WebhookAnswer> {
  const answer = await answerWebhookRequest(request, policy, async (messages) => {
    await enqueue(messages);
    for (const [stream, count] of countByStream(messages)) telemetry.metric('notifications.received', count, stream);
  });
  if (answer.status !== 200) telemetry.metric('notifications.refused', 1, { reason: `http-${answer.status}` });
  for (const [reason, count] of Object.entries(answer.body.rejected ?? {})) telemetry.metric('notifications.refused', count, { reason });
  return answer;
}

/** Messages per tenant and content type, as metric dimensions. */
export function countByStream(messages: readonly ContentMessage[]): Array<[{ tenantId: string; contentType: ContentType }, number]> {
  const counts = new Map<string, [{ tenantId: string; contentType: ContentType }, number]>();
  for (const { tenantId, contentType } of messages) {
    const key = `${tenantId}/${contentType}`;
    const entry = counts.get(key) ?? [{ tenantId, contentType }, 0];
    entry[1]++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

async function answerWebhookRequest(request: WebhookRequest, policy: WebhookPolicy, enqueue: Enqueue): Promise<WebhookAnswer> {
  // Headers first: a caller without the authId learns nothing else (not even that its body is too large), and the
  // worker never takes in a body that is unauthenticated or declared too large.
  const auth = matchAuthId(request.header('webhook-authid'), policy.authIds);
  if (!auth.ok) return { status: 401, body: { error: 'missing or wrong Webhook-AuthID' } };
  const tooLarge: WebhookAnswer = { status: 413, body: { error: `body over ${policy.maxBodyBytes} bytes` } };
  if (Number(request.header('content-length') ?? '0') > policy.maxBodyBytes) return tooLarge;
  const body = await request.body();
  if (body.byteLength > policy.maxBodyBytes) return tooLarge;
  let parsed: unknown;
  try {
    // A UTF-8 byte order mark is allowed before JSON text (RFC 8259 §8.1 lets a parser ignore it).
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8').replace(/^\ufeff/, ''));
  } catch (err) {
    return { status: 400, body: { error: `body is not JSON: ${(err as Error).message}` } };
  }
  if (isValidationRequest(request, parsed)) return { status: 200, body: { validated: true } };
  if (!Array.isArray(parsed)) return { status: 400, body: { error: 'expected a JSON array of notifications or a validation object' } };

  const accepted: ContentMessage[] = [];
  const rejected: Partial<Record<RejectReason, number>> = {};
  const seen = new Set<string>();
  for (const item of parsed) {
    const result = checkItem(item, policy, auth.tenants);
    if (typeof result === 'string') rejected[result] = (rejected[result] ?? 0) + 1;
    else if (!seen.has(`${result.tenantId}/${result.contentId}`)) {
      seen.add(`${result.tenantId}/${result.contentId}`);
      accepted.push(result);
    }
  }
  if (accepted.length > 0) {
    try {
      await enqueue(accepted);
    } catch {
      // Not 200, so the API sends the batch again; the worker's ledger makes the repeat harmless.
      return { status: 503, body: { error: 'the queue did not accept the notifications; retry later' } };
    }
  }
  return { status: 200, body: { accepted: accepted.length, rejected } };
}
