// The reconciler's job for one stream (tenant + content type): list what the API has from the stored cursor
// minus an overlap up to now, enqueue every blob the ledger has not seen, and only then advance the cursor.
// Notifications are best-effort; this listing is the guarantee that a missed one costs minutes, not data.
// An odd listed item costs only itself: it is recorded once as `refused` in the ledger, its raw item kept in the
// dead letter, counted and logged; the good items around it are enqueued and the cursor advances all the same.
import type { ContentType } from '../api/content-types';
import type { Listed, RefusedItem } from '../api/listed-item';
import type { ContentItem } from '../api/schemas';
import type { Logger } from '../log';
import { relayOwnEntries, type DeadLetter } from '../sinks/dead-letter';
import type { Telemetry } from '../telemetry';
import type { ContentMessage } from './content-message';
import type { Ledger, RefusedEntry } from './ledger';
import { refusedEntry, storableRaw } from './refused-listing';

export interface ReconcileDeps {
  ledger: Ledger;
  listContent(tenantId: string, contentType: ContentType, range: { since: Date; until: Date }): AsyncIterable<Listed<ContentItem>>;
  enqueue(messages: ContentMessage[]): Promise<void>;
  /** Where a refused item's raw JSON is kept (sink `relay`: never forwarded). */
  deadLetter: DeadLetter;
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
  /** Refused items first seen in this run (those of earlier runs are known and not counted again). */
  refused: number;
}

export async function reconcileStream(tenantId: string, contentType: ContentType, deps: ReconcileDeps): Promise<ReconcileReport> {
  const until = deps.now();
  const cursor = (await deps.ledger.getCursor(tenantId, contentType)) ?? new Date(until.getTime() - deps.initialLookbackMs);
  const since = new Date(cursor.getTime() - deps.overlapMs);
  const listed: ContentItem[] = [];
  const refused = new Map<string, { entry: RefusedEntry; item: RefusedItem }>();
  for await (const entry of deps.listContent(tenantId, contentType, { since, until })) {
    if (entry.kind === 'item') listed.push(entry.item);
    else {
      const record = refusedEntry(tenantId, contentType, entry.refused);
      if (!refused.has(record.contentId)) refused.set(record.contentId, { entry: record, item: entry.refused });
    }
  }

  const known = await deps.ledger.known(tenantId, [...listed.map((i) => i.contentId), ...refused.keys()]);
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
      source: 'reconciler',
    });
  }
  const messages = [...fresh.values()];
  if (messages.length > 0) {
    await deps.enqueue(messages);
    await deps.ledger.markSeen(messages);
    deps.logger.info('reconciler enqueued content the webhook had not delivered', { tenantId, contentType, count: messages.length });
  }
  // For the completeness receipt: known blobs are flagged listed once (fresh ones were inserted listed).
  await deps.ledger.markListed(tenantId, listed.map((i) => i.contentId).filter((id) => known.has(id)));
  deps.telemetry.metric('reconciler.enqueued', messages.length, { tenantId, contentType });

  // A refused item under the id of a good one in this listing is that blob's business: the good one is fetched.
  const newlyRefused = [...refused.values()].filter(({ entry }) => !known.has(entry.contentId) && !fresh.has(entry.contentId));
  const recorded = await recordRefused(newlyRefused, deps);
  await deps.ledger.setCursor(tenantId, contentType, until);
  return { tenantId, contentType, since, until, listed: listed.length + refused.size, enqueued: messages.length, refused: recorded };
}

/**
 * The dead letter first, then the ledger: a failure in between writes the raw item twice on the next run, never
 * loses it. Counted and logged only for the items whose ledger record is new, so once per item.
 */
async function recordRefused(items: ReadonlyArray<{ entry: RefusedEntry; item: RefusedItem }>, deps: ReconcileDeps): Promise<number> {
  if (items.length === 0) return 0;
  for (const { entry, item } of items) {
    const { record, asText } = storableRaw(item.raw);
    await deps.deadLetter.put(
      { tenantId: entry.tenantId, contentType: entry.contentType, contentId: entry.contentId, contentCreated: entry.contentCreated },
      `listing item refused: ${entry.reason}${asText ? ' (kept as its JSON text: nested too deep to keep as a value)' : ''}`,
      [record],
      relayOwnEntries,
    );
  }
  const recorded = await deps.ledger.markRefused(items.map((i) => i.entry));
  const first = items[0]!.entry;
  for (const entry of recorded) {
    const { position } = items.find((i) => i.entry === entry)!.item;
    deps.logger.warn('listed content item refused: not fetched, kept in the dead letter', {
      tenantId: entry.tenantId,
      contentType: entry.contentType,
      key: entry.contentId,
      reason: entry.reason,
      page: position.page,
      index: position.index,
    });
  }
  deps.telemetry.metric('listing.refused', recorded.length, { tenantId: first.tenantId, contentType: first.contentType });
  return recorded.length;
}
