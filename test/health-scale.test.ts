// Health at many tenants: GET /api/health (and every heartbeat) reads the stream rows of every tenant in one paged
// range query and each stream's refused count from its own row, so one call costs a handful of storage requests
// whatever the number of tenants (it was a point read and a content-partition scan per stream: 10,000 at 1,000
// tenants). The trigger is called in-process, as the worker would, on Azurite behind a counting proxy.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { TableClient } from '@azure/data-tables';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { health } from '../functions/health';
import { contentTypes } from '../shared/api/content-types';
import type { HealthReport } from '../shared/pipeline/health';
import { snapshotOf } from '../shared/pipeline/subscription-state';
import { resetRelayServices } from '../shared/services';
import { streamPartition } from '../shared/state/ledger-rows';
import { createTableLedger, defaultLedgerTable } from '../shared/state/table-ledger';
import { encodeKey } from '../shared/state/table-keys';
import { countingStorage, type CountingStorage } from './support/counting-proxy';

const tenantIdOf = (i: number) => `${(0x20000000 + i).toString(16)}-0000-4000-8000-${String(i).padStart(12, '0')}`;
const tenants = Array.from({ length: 50 }, (_, i) => tenantIdOf(i + 1));
const subscribed = (contentType: string) => ({ contentType, status: 'enabled', webhook: null }) as never;

let azurite: RunningAzurite;
let storage: CountingStorage;
const saved = { ...process.env };
const startedAt = Date.now();

before(async () => {
  azurite = await startAzurite({ blob: true, queue: true, table: true });
  storage = await countingStorage(azurite);
  // The keeper's work, as it leaves it: every stream started and reconciled, every tenant's subscriptions stored.
  const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: defaultLedgerTable, concurrency: 16 });
  await ledger.ensureTable();
  for (const tenantId of tenants) {
    await ledger.setSubscriptionSnapshot(snapshotOf(tenantId, contentTypes.map(subscribed), new Date()));
    await Promise.all(contentTypes.map((contentType) => ledger.setCursor(tenantId, contentType, new Date(startedAt - 60_000))));
  }
  Object.assign(process.env, {
    AzureWebJobsStorage: storage.connectionString,
    O365_CLIENT_ID: '676e8273-3c93-4205-910f-614bb4396a55',
    O365_CLIENT_SECRET: 'health-scale-secret-value',
    O365_LOG_LEVEL: 'warn',
  });
});
after(async () => {
  resetRelayServices();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  await storage?.close();
  await azurite?.close();
});

const context = () => new InvocationContext({ invocationId: 'test-health', functionName: 'health', logHandler: () => undefined });

/** One health call of a relay following `count` tenants, after a first call that made the queues and containers. */
async function healthOf(count: number): Promise<{ report: HealthReport; requests: number; stderr: string[] }> {
  process.env['O365_TENANT_ID'] = tenants.slice(0, count).join(',');
  resetRelayServices();
  const call = async () => (await health(new HttpRequest({ method: 'GET', url: 'http://relay.invalid/api/health' }), context())).jsonBody as HealthReport;
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await call();
    const before = storage.total();
    const report = await call();
    return { report, requests: storage.total() - before, stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe('health at many tenants (in-process, Azurite behind a counting proxy)', () => {
  it('costs the same few storage requests at 10 and at 50 tenants (not two per stream)', async () => {
    const ten = await healthOf(10);
    const fifty = await healthOf(50);
    assert.equal(fifty.report.status, 'ok', fifty.report.reasons.slice(0, 5).join('; '));
    assert.equal(fifty.report.streams.length, 50 * contentTypes.length);
    assert.ok(fifty.report.streams.every((s) => s.refused === 0 && s.cursor === new Date(startedAt - 60_000).toISOString()));
    console.log(`storage requests of one health call: ${ten.requests} at 10 tenants, ${fifty.requests} at 50 (${JSON.stringify(storage.counts)} in all)`);
    assert.ok(fifty.requests <= 10, `one health call at 50 tenants: ${fifty.requests} storage requests`);
    assert.ok(fifty.requests - ten.requests <= 1, `40 more tenants: ${fifty.requests - ten.requests} more requests`);
  });

  it('a corrupt stream row costs only its stream: named in each report, logged once, the others read', async () => {
    const [odd, ...good] = tenants.slice(0, 3);
    const table = TableClient.fromConnectionString(azurite.connectionString, defaultLedgerTable, { allowInsecureConnection: true });
    await table.upsertEntity({ partitionKey: streamPartition(odd!), rowKey: encodeKey('Audit.Exchange'), tenantId: odd, contentType: 'Audit.Exchange', cursor: 'yesterday' }, 'Replace');
    const { report, stderr } = await healthOf(3);
    assert.equal(report.status, 'degraded');
    assert.deepEqual(report.reasons, [`${odd}/Audit.Exchange: never reconciled nor subscribed`, `ledger row of ${odd}/Audit.Exchange unavailable`]);
    const oddStream = report.streams.find((s) => s.tenantId === odd && s.contentType === 'Audit.Exchange')!;
    assert.deepEqual([oddStream.cursor, oddStream.refused], [null, null]);
    const others = report.streams.filter((s) => s !== oddStream);
    assert.equal(others.length, 3 * contentTypes.length - 1);
    assert.ok(others.every((s) => s.status === 'ok' && s.cursor !== null), 'the rows around it are read');
    assert.ok(good.every((t) => others.some((s) => s.tenantId === t)));
    assert.equal(stderr.filter((l) => l.includes(odd!) && l.includes('Audit.Exchange')).length, 1, stderr.join(''));
  });
});
