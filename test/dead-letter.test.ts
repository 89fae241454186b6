// Routing, the dead letter and its re-delivery, and the worker's last-chance path, with real Azurite storage.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import { processContent } from '../shared/pipeline/process-content';
import { redeliver } from '../shared/pipeline/redeliver';
import { decodeRecord } from '../shared/records/decode';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createBlobSink } from '../shared/sinks/blob-sink';
import { SinkError } from '../shared/sinks/sink';
import { sinksForTenant } from '../shared/sinks/routing';
import { createTableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';
import { workerDeps } from './support/worker-deps';
import { switchableSink } from './support/switchable-sink';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const logger = createLogger({ level: 'error' });
let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite();
});
after(() => azurite.close());

describe('sink routing', () => {
  it('sends a tenant with its own sinks only there, and every other tenant to the global sinks', () => {
    const sinks = [{ name: 'global' }, { name: 'customer-a', tenants: ['aaaaaaaa-0000-0000-0000-000000000000'] }];
    assert.deepEqual(sinksForTenant(sinks, 'AAAAAAAA-0000-0000-0000-000000000000').map((s) => s.name), ['customer-a']);
    assert.deepEqual(sinksForTenant(sinks, tenant).map((s) => s.name), ['global']);
  });
});

describe('dead letter', () => {
  it('re-delivers each tenant\'s entries through the sink as that tenant uses it; a tenant whose own token cannot be read holds back only its own', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const deadLetter = createBlobDeadLetter(service.getContainerClient('o365-dead-letter-tokens'));
    await deadLetter.ensure();
    // Listed first (entries are listed by sink, then tenant): a failure that held back the whole sink would leave all three.
    const other = '0a9e6679-7425-40de-944b-e07fc1f90ae7';
    const content = (tenantId: string, n: number) => ({ tenantId, contentType: 'Audit.General' as const, contentId: `tok$${n}`, contentCreated: new Date().toISOString(), contentExpiration: new Date(Date.now() + 86_400_000).toISOString(), waits: 0 });
    const raw = (tenantId: string, seed: number) => [...generateRecords(3, { seed })].map((r) => ({ ...r, OrganizationId: tenantId }));
    await deadLetter.put(content(tenant, 1), 'sink down', raw(tenant, 1), 'siem');
    await deadLetter.put(content(other, 2), 'sink down', raw(other, 2), 'siem');
    await deadLetter.put(content(tenant, 3), 'sink down', raw(tenant, 3), 'siem');
    const siem = switchableSink('siem');
    siem.state.down = false;
    const asked: Array<string | undefined> = [];
    const unresolved = { name: 'siem', open: async () => { throw new SinkError('siem', 'token of tenant not resolved', true, 'SINK_TOKEN_UNRESOLVED'); } };
    const report = await redeliver({ deadLetter, sinkNamed: (n, t) => (asked.push(t), t === other ? unresolved : siem.sink), logger, telemetry: recordingTelemetry() });
    assert.deepEqual(report, { redelivered: 2, records: 6, left: 1 }, 'both of the first tenant\'s entries went, after the other tenant\'s failed');
    assert.ok(asked.includes(tenant) && asked.includes(other), 'the sink is asked for per tenant');
    assert.ok(siem.state.received.every((r) => r.common.OrganizationId === tenant));
  });

  it('keeps a failing sink share when the content nears expiry, and re-delivers it once the sink is back', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const deadLetter = createBlobDeadLetter(service.getContainerClient('o365-dead-letter'));
    await deadLetter.ensure();
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'deadlettertest' });
    const siem = switchableSink('siem');
    const records = [...generateRecords(40, { seed: 7 })].map((r) => ({ ...r, OrganizationId: tenant }) as Record<string, unknown>);
    const message = {
      tenantId: tenant,
      contentType: 'Audit.Exchange' as const,
      contentId: 'lastchance$0001',
      contentCreated: new Date(Date.now() - 7 * 86_400_000 + 3_600_000).toISOString(),
      contentExpiration: new Date(Date.now() + 30 * 60_000).toISOString(),
      waits: 3,
    };
    const telemetry = recordingTelemetry();
    const outcome = await processContent(message, workerDeps({ ledger, records, sinksFor: () => [siem.sink], deadLetter, telemetry }));
    assert.equal(outcome.kind, 'delivered');
    const entries = [];
    for await (const entry of deadLetter.list({ sink: 'siem' })) entries.push(entry);
    assert.equal(entries.reduce((n, e) => n + e.recordCount, 0), 40);

    // Still down: the entries stay, with the attempt noted.
    const first = await redeliver({ deadLetter, sinkNamed: (n) => (n === 'siem' ? siem.sink : undefined), logger, telemetry });
    assert.deepEqual(first, { redelivered: 0, records: 0, left: entries.length });

    siem.state.down = false;
    const second = await redeliver({ deadLetter, sinkNamed: (n) => (n === 'siem' ? siem.sink : undefined), logger, telemetry });
    assert.equal(second.records, 40);
    assert.deepEqual(siem.state.received.map((r) => r.common.Id), records.map((r) => r.Id));
    const left = [];
    for await (const entry of deadLetter.list({ sink: 'siem' })) left.push(entry);
    assert.equal(left.length, 0);
  });

  it('never forwards records of another tenant, and a blob sink takes a re-delivered share once', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const deadLetter = createBlobDeadLetter(service.getContainerClient('o365-dead-letter-2'));
    await deadLetter.ensure();
    const content = { tenantId: tenant, contentType: 'Audit.General' as const, contentId: 'redeliver$0002', contentCreated: '2026-11-25T10:00:00.000Z' };
    const raw = [...generateRecords(5, { seed: 9 })];
    await deadLetter.put(content, 'record of another tenant', raw);
    await deadLetter.put(content, 'sink still failing', raw, 'blob');
    const blobSink = createBlobSink({ containerClient: service.getContainerClient('redelivered'), format: 'line' });
    const report = await redeliver({ deadLetter, sinkNamed: (n) => (n === 'blob' ? blobSink : undefined), logger, telemetry: recordingTelemetry() });
    assert.deepEqual(report, { redelivered: 1, records: 5, left: 1 });
    const text = (await service.getContainerClient('redelivered').getBlockBlobClient('3e1a9b42-f5fb-49f0-ad1b-05d97491bc66/Audit.General/2026/11/25/10/redeliver$0002.log').downloadToBuffer()).toString('utf8');
    assert.equal(text.trim().split('\n').length, 5);
    assert.equal(decodeRecord(raw[0]).common.Id !== undefined, true);
  });

  it('keeps a span of a blob as its text under its offset: once however often it is written, nothing when aborted, in blocks when large', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient('o365-dead-letter-spans');
    const deadLetter = createBlobDeadLetter(container);
    await deadLetter.ensure();
    const content = { tenantId: tenant, contentType: 'Audit.General' as const, contentId: 'spans$0001', contentCreated: '2026-11-25T10:00:00.000Z' };
    for (let attempt = 0; attempt < 2; attempt++) {
      const span = deadLetter.openSpan(content, { offset: 1234, line: 1 });
      await span.write(Buffer.from('{"Id":"x","Size":NaN}'));
      await span.close('invalid JSON: Unexpected token', 21);
    }
    const aborted = deadLetter.openSpan(content, { offset: 99, line: 1 });
    await aborted.write(Buffer.from('{"Id":"cut'));
    await aborted.abort();
    const large = deadLetter.openSpan(content, { offset: 5000, line: 1 });
    const piece = Buffer.alloc(1024 * 1024, 'y');
    for (let i = 0; i < 9; i++) await large.write(piece);
    await large.close('record larger than O365_MAX_RECORD_BYTES', 9 * piece.length);

    const entries = [];
    for await (const entry of deadLetter.list({ sink: 'relay' })) entries.push(entry);
    assert.deepEqual(entries.map((e) => [e.id.split('/').at(-1), e.sink, e.recordCount]), [['span-at-1234.txt', 'relay', 1], ['span-at-5000.txt', 'relay', 1]]);
    assert.match(entries[0]!.reason, /^at byte 1234 \(line 1\): invalid JSON/);
    assert.equal((await container.getBlockBlobClient(entries[0]!.id).downloadToBuffer()).toString(), '{"Id":"x","Size":NaN}');
    const blocks = await container.getBlockBlobClient(entries[1]!.id).getBlockList('committed');
    assert.deepEqual(blocks.committedBlocks?.map((b) => b.size), [4 * 1024 * 1024, 4 * 1024 * 1024, 1024 * 1024]);
    // Never re-delivered: they are not records of any sink.
    const report = await redeliver({ deadLetter, sinkNamed: () => undefined, logger, telemetry: recordingTelemetry() });
    assert.deepEqual(report, { redelivered: 0, records: 0, left: 2 });
  });
});
