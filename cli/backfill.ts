// o365-relay backfill --since 2d [--until T] [--tenant ID ...] [--content-type T ...] [--format line|json]
//                     [--out FILE] [--include K=V ...] [--exclude K=V ...]
// Lists every window and page, downloads each blob, decodes, filters, and prints or writes the events.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ContentType } from '../shared/api/content-types';
import type { ContentItem } from '../shared/api/schemas';
import { ContentExpiredError } from '../shared/api/errors';
import { decodeStream, emptyStats, type DecodeStats } from '../shared/records/decode-stream';
import { toAuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { describeRefused } from '../shared/api/listed-item';
import { chosenContentTypes, chosenTenants, openApiSession } from './api-session';
import { filterFromArgs } from './decode';
import { LineWriter } from './output';
import { parseTimeArg } from './time-arg';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const backfillUsage = `usage: o365-relay backfill --since 2d [--until TIME] [--tenant ID ...] [--content-type T ...]
                           [--format line|json] [--out FILE] [--sink NAME] [--include KEY=V1,V2 ...] [--exclude ...]
  Downloads and decodes every content blob created in the window (at most 7 days back). A listed item the relay
  refuses (foreign or unreadable) is reported on stderr and never fetched; the others are backfilled.
  Exit code: 0 all delivered, 1 usage or settings, 2 a blob failed or expired, an input was invalid or a listed
  item was refused, 3 the --sink destination rejected records for good, 130 interrupted.`;

interface Progress {
  blobs: number;
  total: number;
  failed: number;
  expired: number;
  /** Listed items refused (never fetched). */
  refused: number;
  records: DecodeStats;
  /** With --sink: records the destination kept, and those it rejected for good. */
  sink: { delivered: number; rejected: number };
}

export async function runBackfill(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      tenant: { type: 'string', multiple: true, default: [] },
      'content-type': { type: 'string', multiple: true, default: [] },
      format: { type: 'string', default: 'line' },
      out: { type: 'string' },
      include: { type: 'string', multiple: true, default: [] },
      exclude: { type: 'string', multiple: true, default: [] },
      sink: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(backfillUsage + '\n');
    return 0;
  }
  if (values.since === undefined) throw new UsageError('--since is required (e.g. --since 2d)');
  if (values.format !== 'line' && values.format !== 'json') throw new UsageError(`--format must be line or json, not ${values.format}`);
  const now = new Date();
  const since = parseTimeArg(values.since, '--since', now);
  const until = values.until === undefined ? now : parseTimeArg(values.until, '--until', now);
  const filter = filterFromArgs(values.include, values.exclude);

  const session = openApiSession();
  // Loaded only for --sink: the sinks pull in the storage and HTTP clients.
  const target = values.sink === undefined ? undefined : (await import('./sink-target.js')).sinkTarget(values.sink);
  const out: Writable = values.out === undefined ? process.stdout : createWriteStream(values.out);
  const writer = new LineWriter(out);
  const progress: Progress = { blobs: 0, total: 0, failed: 0, expired: 0, refused: 0, records: emptyStats(), sink: { delivered: 0, rejected: 0 } };
  const showProgress = process.stderr.isTTY === true;
  const report = (final = false) => {
    const text =
      `blobs ${progress.blobs}/${progress.total} (${progress.failed} failed, ${progress.expired} expired), ` +
      `${progress.refused} listed item(s) refused, ` +
      `records ${progress.records.records} (${progress.records.filtered} filtered, ${progress.records.withSchemaErrors} with schema errors), ` +
      `${progress.records.invalid} invalid inputs, ${session.throttles()} throttled answers` +
      (target ? `; sink ${values.sink}: ${progress.sink.delivered} delivered, ${progress.sink.rejected} rejected` : '');
    if (final) process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}backfill: ${text}\n`);
    else if (showProgress) process.stderr.write(`\r\x1b[K${text}`);
  };
  try {
    const types = chosenContentTypes(values['content-type'], session.settings.contentTypes);
    const work: Array<{ tenantId: string; item: ContentItem }> = [];
    for (const tenantId of chosenTenants(values.tenant, await session.tenantIds())) {
      for (const contentType of types) {
        try {
          for await (const listed of session.client.tenant(tenantId).listContentRange(contentType, { since, until }, { signal: session.signal })) {
            if (listed.kind === 'item') work.push({ tenantId, item: listed.item });
            else {
              progress.refused++;
              process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}${tenantId} ${contentType}: ${describeRefused(listed.refused)}\n`);
            }
          }
        } catch (err) {
          // One stream that cannot be listed (no subscription, disabled) must not hide the others.
          if (session.signal.aborted) throw err;
          progress.failed++;
          process.stderr.write(`${tenantId} ${contentType}: cannot list content: ${(err as Error).message}\n`);
        }
      }
    }
    progress.total = work.length;
    report();
    for (const { tenantId, item } of work) {
      if (session.signal.aborted) break;
      try {
        const body = await session.client.fetchContent(tenantId, item.contentId, { contentExpiration: item.contentExpiration, signal: session.signal });
        const delivery = target ? await target.open({ tenantId, contentType: item.contentType as ContentType, contentId: item.contentId, contentCreated: item.contentCreated }) : undefined;
        try {
          for await (const batch of decodeStream(body, { filter, context: { contentType: item.contentType }, stats: progress.records })) {
            if (delivery) await delivery.write(batch.records);
            else {
              for (const decoded of batch.records) {
                const line = formatLine(decoded);
                await writer.write(values.format === 'json' ? JSON.stringify(toAuditEvent(decoded, line)) : line);
              }
            }
            for (const invalid of batch.invalid) process.stderr.write(`${item.contentId}: byte ${invalid.offset}: ${invalid.reason}\n`);
          }
          if (delivery) {
            await delivery.close();
            progress.sink.delivered += delivery.accepted - delivery.rejected;
            progress.sink.rejected += delivery.rejected;
            if (delivery.rejected > 0) process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}${item.contentId}: sink ${values.sink}: ${delivery.summary()}\n`);
          }
        } catch (err) {
          await delivery?.abort();
          throw err;
        }
      } catch (err) {
        if (session.signal.aborted) break;
        if (err instanceof ContentExpiredError) progress.expired++;
        else progress.failed++;
        process.stderr.write(`${showProgress ? '\r\x1b[K' : ''}${tenantId} ${item.contentType} ${item.contentId}: ${(err as Error).message}\n`);
      }
      progress.blobs++;
      report();
    }
    await writer.flush();
  } finally {
    if (out !== process.stdout) {
      out.end();
      await once(out, 'close');
    }
    report(true);
    session.close();
  }
  if (session.signal.aborted) return 130;
  if (progress.sink.rejected > 0) return 3;
  return progress.failed + progress.expired + progress.refused + progress.records.invalid > 0 ? 2 : 0;
}
