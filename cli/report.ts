// o365-relay report: the completeness receipt per tenant, content type and UTC day, from the ledger the app keeps.
// Final days' receipts are kept in blob storage once, with their SHA-256. Uses the app's settings (storage, tenants).
import { ContentType } from '../shared/api/content-types';
import { mapLimited } from '../shared/map-limited';
import { buildReceipt, dayStart, finalDayReceipts, streamKey, type ReceiptBlob } from '../shared/pipeline/receipt';
import { formatReceipt, receiptFormats, type ReceiptFormat, type StoredDay } from '../shared/pipeline/receipt-formats';
import { relayServices } from '../shared/services';
import { keepDayReceipt, receiptContainerName } from '../shared/state/receipt-store';
import { readReceiptRows } from '../shared/state/receipt-rows';
import { createStorageAccount } from '../shared/state/storage-account';
import { defaultLedgerTable } from '../shared/state/table-ledger';
import { parseCommandLine } from './command-line';
import { parseTimeArg } from './time-arg';
import { UsageError } from './usage-error';

export const reportUsage = `usage: o365-relay report [--since 7d] [--until TIME] [--tenant ID] [--format text|csv|json|html] [--top N]
  The completeness receipt per tenant, content type and UTC day: blobs listed and notified, delivered per sink,
  filtered, dead-lettered, refused, expired, pending; complete only when every listed blob reached every sink that
  should have it. A day is final once a listing ran 24 h after it ended (open until then); final days are kept in
  the ${receiptContainerName} container with their SHA-256. Exit 0: all complete; 2: something incomplete or open.`;

const tenantsInParallel = 8;

export async function runReport(argv: string[], out: { write(text: string): unknown } = process.stdout): Promise<number> {
  const { values } = parseCommandLine({
    args: argv,
    options: {
      since: { type: 'string' }, until: { type: 'string' }, tenant: { type: 'string' }, format: { type: 'string' },
      top: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    out.write(reportUsage + '\n');
    return 0;
  }
  const format = (values.format ?? 'text') as ReceiptFormat;
  if (!receiptFormats.includes(format)) throw new UsageError(`--format ${values.format}: expected one of ${receiptFormats.join(', ')}`);
  const top = values.top === undefined ? 50 : Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top ${values.top}: expected a whole number of tenants (1 or more)`);
  const now = new Date();
  const until = values.until === undefined ? now : parseTimeArg(values.until, '--until', now);
  const since = parseTimeArg(values.since ?? '7d', '--since', now);
  if (since.getTime() >= until.getTime()) throw new UsageError('--since must be before --until');

  const s = relayServices();
  const tenantFilter = values.tenant?.toLowerCase();
  const tenants = (await s.followed()).filter((t) => tenantFilter === undefined || t.tenantId === tenantFilter);
  if (tenants.length === 0) throw new UsageError(tenantFilter === undefined ? 'no tenant to report on: O365_TENANT_ID is not set and the registry table has no active tenant' : `--tenant ${values.tenant}: not a followed tenant (O365_TENANT_ID, or active in the registry table)`);
  if (s.settings.relay.storage === undefined) throw new UsageError('AzureWebJobsStorage is required: the ledger lives there');
  const storage = createStorageAccount(s.settings.relay.storage);
  const table = storage.table(defaultLedgerTable);

  const rows = new Map<string, { blobs: ReceiptBlob[]; unreadable: number }>();
  const listedThrough = new Map<string, Date | undefined>();
  const from = dayStart(since);
  await mapLimited(tenants, tenantsInParallel, async ({ tenantId, contentTypes }) => {
    const read = await readReceiptRows(table, tenantId, from, until);
    if (read.unreadable > 0) s.logger.warn('ledger rows that cannot be read: the tenant is not proven complete', { tenantId, count: read.unreadable });
    rows.set(tenantId, read);
    for (const contentType of contentTypes) listedThrough.set(streamKey(tenantId, contentType), (await s.ledger.getStream(tenantId, contentType)).cursor);
  });
  const receipt = buildReceipt({ tenants: tenants.map((t) => ({ tenantId: t.tenantId, contentTypes: t.contentTypes.map((c) => ContentType.parse(c)) })), rows, listedThrough, since, until, now });

  const container = storage.blobService.getContainerClient(receiptContainerName);
  const finals = finalDayReceipts(receipt);
  if (finals.length > 0) await container.createIfNotExists();
  const stored: StoredDay[] = [];
  await mapLimited(finals, tenantsInParallel, async (day) => {
    stored.push(await keepDayReceipt(container, day));
  });
  stored.sort((a, b) => a.tenantId.localeCompare(b.tenantId) || a.day.localeCompare(b.day));
  out.write(formatReceipt({ ...receipt, stored }, format, { top }));
  s.client.close();
  return receipt.verdict === 'complete' ? 0 : 2;
}
