// The reconciler's job for one stream (tenant + content type): list what the API has from the stored cursor
// minus an overlap up to now, enqueue every blob the ledger has not seen, and only then advance the cursor.
// Notifications are best-effort; this listing is the guarantee that a missed one costs minutes, not data.
import type { ContentType } from '../api/content-types';
import type { ContentItem } from '../api/schemas';
import type { Logger } from '../log';
import type { Telemetry } from '../telemetry';
import type { ContentMessage } from './content-message';
import type { Ledger } from './ledger';

export interface ReconcileDeps {
  ledger: Ledger;
  listContent(tenantId: string, contentType: ContentType, range: { since: Date; until: Date }): AsyncIterable<ContentItem>;
  enqueue(messages: ContentMessage[]): Promise<void>;
  now: () => Date;
  /** Listed again behind the cursor, for clock skew and late listings. Default 30 min. */
  overlapMs: number;
  /** Where a stream without a cursor starts (O365_INITIAL_LOOKBACK, at most 7 days). */
  initialLookbackMs: number;
  logger: Logger;
  telemetry: Telemetry;
}

export interface ReconcileReport {
  tenantId: string;
  contentType: ContentType;
  since: Date;
  until: Date;
  listed: number;
  enqueued: number;
}

export async function reconcileStream(tenantId: string, contentType: ContentType, deps: ReconcileDeps): Promise<ReconcileReport> {
  const until = deps.now();
  const cursor = (await deps.ledger.getCursor(tenantId, contentType)) ?? new Date(until.getTime() - deps.initialLookbackMs);
  const since = new Date(cursor.getTime() - deps.overlapMs);
  const listed: ContentItem[] = [];
  for await (const item of deps.listContent(tenantId, contentType, { since, until })) listed.push(item);

  const known = await deps.ledger.known(tenantId, listed.map((i) => i.contentId));
  const fresh = new Map<string, ContentMessage>();
  for (const item of listed) {
    if (known.has(item.contentId) || fresh.has(item.contentId)) continue;
    fresh.set(item.contentId, {
      tenantId,
      contentType,
      contentId: item.contentId,
      contentCreated: item.contentCreated,
      contentExpiration: item.contentExpiration,
      waits: 0,
    });
  }
  const messages = [...fresh.values()];
  if (messages.length > 0) {
    await deps.enqueue(messages);
    await deps.ledger.markSeen(messages);
    deps.logger.info('reconciler enqueued content the webhook had not delivered', { tenantId, contentType, count: messages.length });
  }
  deps.telemetry.metric('reconciler.enqueued', messages.length, { tenantId, contentType });
  await deps.ledger.setCursor(tenantId, contentType, until);
  return { tenantId, contentType, since, until, listed: listed.length, enqueued: messages.length };
}
