// The receipt's `listed` flag on real Table storage (Azurite), and what it costs the reconciler: counted requests
// of a run over known blobs. The flag is written once per blob in its life; the known-reads the reconciler makes
// anyway (a point read per listed id) carry it, so a run over blobs already flagged adds no request at all.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TableClient } from '@azure/data-tables';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import type { ContentMessage } from '../shared/pipeline/content-message';
import { createTableLedger } from '../shared/state/table-ledger';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
let azurite: RunningAzurite;
let tables = 0;

/** A table client whose reads (point reads and queries) and writes are counted. */
function countedClient(): { client: TableClient; counts: { reads: number; writes: number } } {
  const client = TableClient.fromConnectionString(azurite.connectionString, `receipt${++tables}`, { allowInsecureConnection: true });
  const counts = { reads: 0, writes: 0 };
  const listEntities = client.listEntities.bind(client);
  client.listEntities = ((...args: Parameters<typeof listEntities>) => {
    counts.reads++;
    return listEntities(...args);
  }) as typeof client.listEntities;
  const getEntity = client.getEntity.bind(client);
  client.getEntity = ((...args: Parameters<typeof getEntity>) => {
    counts.reads++;
    return getEntity(...args);
  }) as typeof client.getEntity;
  for (const name of ['createEntity', 'updateEntity', 'upsertEntity'] as const) {
    const original = (client[name] as (...a: unknown[]) => Promise<unknown>).bind(client);
    (client as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counts.writes++;
      return original(...args);
    };
  }
  return { client, counts };
}

const message = (i: number, source: ContentMessage['source']): ContentMessage => ({
  tenantId, contentType: 'Audit.Exchange', contentId: `content-${i}`, contentCreated: '2025-03-10T10:00:00.000Z',
  contentExpiration: '2025-03-17T10:00:00.000Z', waits: 0, ...(source ? { source } : {}),
});

before(async () => {
  azurite = await startAzurite({ blob: false, queue: false, table: true });
});
after(async () => {
  await azurite.close();
});

describe('the listed flag', () => {
  it('is written once per known blob, and a run over flagged blobs costs no request beyond its known-reads', async () => {
    const { client, counts } = countedClient();
    const ledger = createTableLedger({ tableClient: client });
    // 40 blobs the webhook brought (claimed: rows without the flag), 10 the reconciler inserted (flagged at insert).
    for (let i = 0; i < 40; i++) await ledger.claim(message(i, 'webhook'), 'w', 60_000, Date.now());
    await ledger.markSeen(Array.from({ length: 10 }, (_, i) => message(40 + i, 'reconciler')));
    const ids = Array.from({ length: 50 }, (_, i) => `content-${i}`);

    const runs: Array<{ reads: number; writes: number; flagged: number }> = [];
    for (let run = 0; run < 3; run++) {
      counts.reads = 0;
      counts.writes = 0;
      const known = await ledger.known(tenantId, ids);
      const flagged = await ledger.markListed(tenantId, ids.filter((id) => known.has(id)));
      runs.push({ ...counts, flagged });
    }
    const knownReads = 50; // a point read per listed id
    process.stdout.write(`# listed flag, 50 listed blobs (40 unflagged): per run ${JSON.stringify(runs)}; known-reads alone ${knownReads}\n`);
    assert.deepEqual(runs[0], { reads: knownReads, writes: 40, flagged: 40 });
    assert.deepEqual(runs[1], { reads: knownReads, writes: 0, flagged: 0 });
    assert.deepEqual(runs[2], { reads: knownReads, writes: 0, flagged: 0 });
    for (const id of ids) assert.equal((await ledger.get({ tenantId, contentId: id }))?.listed, true, id);
  });

  it('ids the last known-reads did not read are read once, and a purged row is skipped', async () => {
    const { client, counts } = countedClient();
    const ledger = createTableLedger({ tableClient: client });
    await ledger.claim(message(1, 'webhook'), 'w', 60_000, Date.now());
    await ledger.claim(message(2, undefined), 'w', 60_000, Date.now());
    counts.reads = 0;
    assert.equal(await ledger.markListed(tenantId, ['content-1', 'content-2', 'content-missing']), 2);
    assert.equal(counts.reads, 3);
    const entry = await ledger.get({ tenantId, contentId: 'content-1' });
    assert.equal(entry?.listed, true);
    assert.equal(entry?.notified, true);
    assert.equal(entry?.claim?.owner, 'w', 'the Merge keeps the rest of the row');
    assert.equal(await ledger.get({ tenantId, contentId: 'content-missing' }), undefined);
  });
});
