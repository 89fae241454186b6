// The completeness receipt on the local stack: the built bundle in the dev Functions host, Azurite, the API
// simulator and an HTTPS JSON collector beside the blob sink. A scripted week of content (contentCreated spread
// over the last seven UTC days; the app runs on the real clock, so the days two or more back are final and the
// last two open), with a dropped notification, an expiry, a refused listing item and a collector outage that ends
// in the dead letter; then the real `o365-relay report` process says exactly that, per day, with its verdict.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import type { ContentType } from '../shared/api/content-types';
import { createLogger } from '../shared/log';
import { ReceiptOutput } from '../shared/pipeline/receipt-formats';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { receiptContainerName } from '../shared/state/receipt-store';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords, seededRandom } from '../dev/record-generator';
import type { PublishedContent } from '../dev/simulator';
import { repoRoot } from './support/fixtures';
import { startReceiver, type Receiver } from './support/siem-receiver';

const dayMs = 86_400_000;
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
let stack: LocalStack;
let ledger: TableLedger;
let receiver: Receiver;
let collectorDown = false;
let seed = 500;

const utcDay = (t: number) => new Date(t).toISOString().slice(0, 10);
const records = (count: number) => [...generateRecords(count, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: stack.tenantId }));
const settle = async () => {
  await stack.simulator.flushNotifications();
  await stack.host.idle({ timeoutMs: 45_000 });
};
async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await new Promise((resolve) => setTimeout(resolve, 100))) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}
const state = async (c: PublishedContent) => (await ledger.get({ tenantId: stack.tenantId, contentId: c.contentId }))?.state;

function report(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'report', ...args], { env: { PATH: process.env.PATH, ...stack.settings }, cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  receiver = await startReceiver({ protocol: 'json', token: 'receipt-siem-token-0123456789', fault: () => (collectorDown ? { kind: 'status', status: 503 } : undefined) });
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    overrides: {
      O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', // fired by the test
      O365_INITIAL_LOOKBACK: '7d',
      O365_LOG_LEVEL: 'error',
      SIEM_TOKEN: 'receipt-siem-token-0123456789',
      O365_SINKS: JSON.stringify([
        { kind: 'blob', name: 'archive', container: 'o365-audit', format: 'json' },
        { kind: 'https-json', name: 'collector', url: `${receiver.url}/in`, tokenSetting: 'SIEM_TOKEN', maxAttempts: 1, maxRetryMs: 0 },
      ]),
    },
    simulator: { random: seededRandom(17), notifyRetryDelaysMs: [200, 400, 800] },
    logger: createLogger({ level: 'error' }),
  });
  ledger = createTableLedger({ connectionString: stack.azurite.connectionString });
  // The keeper's timer plans; keepTenant (a queue function) starts the subscriptions.
  await stack.host.fireTimer('subscriptionKeeper');
  await stack.host.idle({ timeoutMs: 30_000 });
});

after(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('o365-relay report on the local stack', () => {
  const blobs: Record<string, PublishedContent> = {};
  const publish = async (name: string, contentType: ContentType, daysBack: number, count: number, extraMs = 0) => {
    blobs[name] = await stack.simulator.publish(stack.tenantId, contentType, records(count), { contentCreated: new Date(Date.now() - daysBack * dayMs + extraMs) });
    return blobs[name]!;
  };

  it('relays a scripted week with a collector outage, a dropped notification, an expiry and a refused item', async () => {
    // The outage: the collector is down for a blob 10 minutes and a few seconds from its expiry. Its first try
    // waits (seconds, capped by the expiry), the second sends the collector's share to the dead letter.
    collectorDown = true;
    const outage = await publish('outage', 'Audit.General', 7, 9, 10 * 60_000 + 6_000);
    await waitFor('the outage blob is finished', async () => (await state(outage)) === 'delivered');
    collectorDown = false;

    await publish('normal5', 'Audit.Exchange', 5, 20);
    stack.simulator.faults.dropNotifications = 1;
    await publish('dropped4', 'Audit.SharePoint', 4, 15);
    await stack.simulator.flushNotifications();
    stack.simulator.faults.dropNotifications = 1;
    const expiring = await publish('expired3', 'Audit.Exchange', 3, 12);
    await stack.simulator.flushNotifications();
    stack.simulator.faults.dropNotifications = 0;
    stack.simulator.expireContent(stack.tenantId, expiring.contentId);
    await publish('good2', 'Audit.AzureActiveDirectory', 2, 8);
    stack.simulator.injectListingItem(stack.tenantId, 'Audit.AzureActiveDirectory', {
      contentType: 'Audit.AzureActiveDirectory',
      contentId: '20250101000000000000000000000001$foreign$audit_azureactivedirectory$Audit_AzureActiveDirectory$na0034',
      contentUri: 'https://collector.example.net/steal',
      contentCreated: new Date(Date.now() - 2 * dayMs + 60_000).toISOString(),
      contentExpiration: new Date(Date.now() + 5 * dayMs).toISOString(),
    }, { contentCreated: new Date(Date.now() - 2 * dayMs + 60_000) });
    await publish('open1', 'DLP.All', 1, 5);
    await publish('open0', 'Audit.Exchange', 0, 6);
    await settle();
    await stack.host.fireTimer('reconciler');
    await settle();
    assert.equal(await state(blobs.dropped4!), 'delivered');
    assert.equal(await state(expiring), 'expired');
  });

  it('the receipt says exactly what happened, per day, and keeps final days once with their SHA-256', async () => {
    const run = await report(['--since', '8d', '--format', 'json']);
    assert.equal(run.code, 2, run.stderr); // open days (and incomplete ones)
    const receipt = ReceiptOutput.parse(JSON.parse(run.stdout));
    const tenant = receipt.tenants.find((t) => t.tenantId === stack.tenantId)!;
    const cell = (name: string) => {
      const c = blobs[name]!;
      return tenant.days.find((d) => d.day === utcDay(Date.parse(c.contentCreated)) && d.contentType === c.contentType)!;
    };
    const sink = (name: string, sinkName: string) => cell(name).sinks.find((s) => s.sink === sinkName);

    // The day of the outage: the blob sink has it, the collector's share is in the dead letter.
    assert.equal(cell('outage').verdict, 'incomplete');
    assert.deepEqual(sink('outage', 'archive'), { sink: 'archive', expected: 1, delivered: 1, deadLettered: 0, missing: 0, recordsDelivered: 9, recordsDeadLettered: 0 });
    assert.deepEqual(sink('outage', 'collector'), { sink: 'collector', expected: 1, delivered: 0, deadLettered: 1, missing: 0, recordsDelivered: 0, recordsDeadLettered: 9 });
    assert.equal(cell('outage').blobs.notified, 1);
    // Minutes from its expiry it is past the listing's reach (windows keep 30 min from the 7-day edge): the
    // receipt says it was notified and never listed.
    assert.equal(cell('outage').blobs.listed, 0);
    assert.equal(cell('outage').blobs.notifiedNotListed, 1);

    // A normal day: complete.
    assert.equal(cell('normal5').verdict, 'complete');
    assert.deepEqual(cell('normal5').blobs, { known: 1, listed: 1, notified: 1, listedNotNotified: 0, notifiedNotListed: 0, delivered: 1, withProblems: 0, deadLettered: 0, refused: 0, expired: 0, pending: 0 });
    assert.deepEqual(cell('normal5').records, { in: 20, filtered: 0 });
    assert.deepEqual(cell('normal5').sinks.map((s) => [s.sink, s.delivered, s.recordsDelivered]), [['archive', 1, 20], ['collector', 1, 20]]);

    // The dropped notification: listed, not notified, delivered: still complete.
    assert.equal(cell('dropped4').verdict, 'complete');
    assert.equal(cell('dropped4').blobs.listedNotNotified, 1);
    assert.equal(cell('dropped4').blobs.notified, 0);
    assert.equal(cell('dropped4').blobs.delivered, 1);

    // The expiry: listed, expired, incomplete.
    assert.equal(cell('expired3').verdict, 'incomplete');
    assert.equal(cell('expired3').blobs.expired, 1);
    assert.ok(cell('expired3').problems.some((p) => p.includes('expired before delivery')));

    // The refused listing item, beside a good blob of the same day and stream.
    assert.equal(cell('good2').verdict, 'incomplete');
    assert.equal(cell('good2').blobs.refused, 1);
    assert.equal(cell('good2').blobs.delivered, 1);
    assert.equal(cell('good2').blobs.listed, 2);

    // Yesterday and today: open, whatever they hold.
    assert.equal(cell('open1').final, false);
    assert.equal(cell('open1').verdict, 'open');
    assert.equal(cell('open0').verdict, 'open');
    assert.equal(cell('open0').blobs.delivered, 1);

    // Days without content that are final are complete; every final day is kept once.
    const finalDays = [...new Set(tenant.days.filter((d) => d.final).map((d) => d.day))];
    assert.ok(finalDays.length >= 6);
    assert.deepEqual(receipt.stored.map((s) => s.day).sort(), finalDays.sort());
    assert.ok(receipt.stored.every((s) => s.written));
    const container = BlobServiceClient.fromConnectionString(stack.azurite.connectionString).getContainerClient(receiptContainerName);
    for (const s of receipt.stored) {
      const blob = container.getBlockBlobClient(`${s.tenantId}/${s.day}.json`);
      const bytes = await blob.downloadToBuffer();
      assert.equal(createHash('sha256').update(bytes).digest('hex'), s.sha256);
      assert.equal((await blob.getProperties()).metadata?.sha256, s.sha256);
    }

    // A second run writes nothing again and reports the digests already kept.
    const again = ReceiptOutput.parse(JSON.parse((await report(['--since', '8d', '--format', 'json'])).stdout));
    assert.deepEqual(again.stored.map((s) => [s.day, s.sha256, s.written]), receipt.stored.map((s) => [s.day, s.sha256, false]));
  });

  it('prints text, CSV and HTML, and refuses bad usage with exit 1', async () => {
    const text = await report(['--since', '8d', '--tenant', stack.tenantId]);
    assert.equal(text.code, 2);
    assert.match(text.stdout, /expired before delivery \(data loss\)/);
    const csv = await report(['--since', '8d', '--format', 'csv']);
    assert.ok(csv.stdout.startsWith('tenantId,day,contentType,final,verdict'));
    const html = await report(['--since', '8d', '--format', 'html']);
    assert.ok(html.stdout.includes('<svg '));
    assert.ok(!/(https?:)?\/\/|\b(src|href)=/i.test(html.stdout));
    assert.equal((await report(['--format', 'pdf'])).code, 1);
    assert.equal((await report(['--tenant', '11111111-2222-4333-8444-555555555555'])).code, 1);
  });
});
