// The worker with several sinks: one sink that is down does not hold the others back, what each accepted is
// recorded, a retry goes only to the sinks that do not have the blob yet, and a per-sink filter still ends "done".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import type { ContentMessage } from '../shared/pipeline/content-message';
import { processContent, type ContentWorkerDeps } from '../shared/pipeline/process-content';
import { compileFilter } from '../shared/records/filters';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createBlobSink } from '../shared/sinks/blob-sink';
import { filteredSink } from '../shared/sinks/filtered-sink';
import { SinkError, type Sink } from '../shared/sinks/sink';
import { createTableLedger } from '../shared/state/table-ledger';
import { createHttpsJsonSink, HttpsJsonSinkSettings } from '../shared/sinks/https-json-sink';
import { workerDeps } from './support/worker-deps';
import { testContext } from './support/sink-harness';
import { startReceiver } from './support/siem-receiver';
import { switchableSink } from './support/switchable-sink';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite();
});
after(() => azurite.close());

describe('content worker with several sinks', () => {
  it('delivers to the healthy sinks, waits for the one that is down, and resumes only that one', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'workersinks' });
    const archive = createBlobSink({ name: 'archive', containerClient: service.getContainerClient('archive'), format: 'line' });
    // Only admin records: the sink's share is smaller than the blob, and it must still end "done".
    const adminOnly = filteredSink(createBlobSink({ name: 'admin', containerClient: service.getContainerClient('admin'), format: 'line' }), compileFilter({ include: { recordTypes: [1] } }));
    const siem = switchableSink('siem');
    const records = [...generateRecords(70, { seed: 3 })];
    const message: ContentMessage = {
      tenantId: tenant,
      contentType: 'Audit.Exchange',
      contentId: 'several$sinks$0001',
      contentCreated: new Date().toISOString(),
      contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      waits: 0,
    };
    let fetches = 0;
    const deps = (sinks: Sink[]): ContentWorkerDeps => {
      fetches++;
      return workerDeps({ ledger, records, sinksFor: () => sinks, deadLetter: createBlobDeadLetter(service.getContainerClient('o365-dead-letter')), owner: `worker-${fetches}` });
    };

    const first = await processContent(message, deps([archive, adminOnly, siem.sink]));
    assert.equal(first.kind, 'wait');
    const entry = await ledger.get({ tenantId: tenant, contentId: message.contentId });
    assert.equal(entry?.sinks.archive?.done, true);
    assert.equal(entry?.sinks.admin?.done, true);
    assert.equal(entry?.sinks.admin?.accepted, records.filter((r) => r.RecordType === 1).length);
    assert.equal(entry?.sinks.siem?.done, false);
    assert.equal(entry?.state, 'enqueued');

    siem.state.down = false;
    const archiveEtag = (await service.getContainerClient('archive').getBlockBlobClient(`${tenant}/Audit.Exchange/${message.contentCreated.slice(0, 4)}/${message.contentCreated.slice(5, 7)}/${message.contentCreated.slice(8, 10)}/${message.contentCreated.slice(11, 13)}/${message.contentId}.log`).getProperties()).etag;
    const second = await processContent({ ...message, waits: 1 }, deps([archive, adminOnly, siem.sink]));
    assert.equal(second.kind, 'delivered');
    assert.deepEqual(second.kind === 'delivered' ? second.sinks : [], ['siem'], 'only the sink that did not have it');
    assert.equal(siem.state.received.length, records.length);
    assert.equal(siem.state.opened, 2);
    const after = (await service.getContainerClient('archive').getBlockBlobClient(`${tenant}/Audit.Exchange/${message.contentCreated.slice(0, 4)}/${message.contentCreated.slice(5, 7)}/${message.contentCreated.slice(8, 10)}/${message.contentCreated.slice(11, 13)}/${message.contentId}.log`).getProperties()).etag;
    assert.equal(after, archiveEtag);
    assert.equal((await ledger.get({ tenantId: tenant, contentId: message.contentId }))?.state, 'delivered');
  });

  it("waits at least as long as a sink's Retry-After asked", async () => {
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'workersinksretry' });
    const busy: Sink = {
      name: 'busy',
      open: async () => ({
        write: async () => undefined,
        close: async () => {
          throw new SinkError('busy', 'busy: 503 after 6 attempts', true, undefined, { retryAfterMs: 600_000 });
        },
        abort: async () => undefined,
        accepted: 0,
      }),
    };
    const outcome = await processContent(
      { tenantId: tenant, contentType: 'Audit.General', contentId: 'busy$sink$0001', contentCreated: new Date().toISOString(), contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(), waits: 0 },
      workerDeps({ ledger, records: [...generateRecords(3)], sinksFor: () => [busy] }),
    );
    assert.equal(outcome.kind, 'wait');
    assert.ok(outcome.kind === 'wait' && outcome.delayMs >= 600_000, `waited ${outcome.kind === 'wait' ? outcome.delayMs : 0} ms`);
  });

  it('stores a sink\'s progress after every accepted batch, before the next batch is sent', async () => {
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'workersinksprogress' });
    const key = { tenantId: tenant, contentId: 'progress$per$batch$0001' };
    // What the ledger said about the sink when each batch arrived (the answer waits until the read is done).
    const seen: Array<Promise<number | undefined>> = [];
    const r = await startReceiver({
      protocol: 'json',
      fault: () => {
        seen.push(ledger.get(key).then((e) => e?.sinks.siem?.accepted));
        return { kind: 'slow', delayMs: 150 };
      },
    });
    try {
      const sink = createHttpsJsonSink('siem', HttpsJsonSinkSettings.parse({ url: r.url, batchRecords: 50, gzip: false }), testContext({}));
      const outcome = await processContent(
        { ...key, contentType: 'Audit.General', contentCreated: new Date().toISOString(), contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(), waits: 0 },
        workerDeps({ ledger, records: [...generateRecords(200, { seed: 11 })], sinksFor: () => [sink], owner: 'progress-worker' }),
      );
      sink.dispose();
      assert.equal(outcome.kind, 'delivered');
      assert.deepEqual(await Promise.all(seen), [undefined, 50, 100, 150]);
      assert.deepEqual((await ledger.get(key))?.sinks.siem, { accepted: 200, done: true });
    } finally {
      await r.close();
    }
  });

  it('stops sending when another worker has taken its claim', async () => {
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'workersinksclaimlost' });
    const message: ContentMessage = {
      tenantId: tenant,
      contentType: 'Audit.General',
      contentId: 'claim$lost$0001',
      contentCreated: new Date().toISOString(),
      contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(),
      waits: 0,
    };
    // While the first batch waits for its answer, the claim passes to another worker (as after a stall past the lease).
    let takeover: Promise<unknown> | undefined;
    const r = await startReceiver({
      protocol: 'json',
      fault: (n) => {
        if (n !== 1) return undefined;
        takeover = ledger.release(message, 'stalled-worker').then(() => ledger.claim(message, 'other-worker', 60_000, Date.now()));
        return { kind: 'slow', delayMs: 2500 };
      },
    });
    const lines: string[] = [];
    try {
      const sink = createHttpsJsonSink('siem', HttpsJsonSinkSettings.parse({ url: r.url, batchRecords: 50, gzip: false, maxAttempts: 1 }), testContext({}));
      const outcome = await processContent(message, workerDeps({
        ledger,
        records: [...generateRecords(200, { seed: 12 })],
        sinksFor: () => [sink],
        owner: 'stalled-worker',
        claimLeaseMs: 3000,
        logger: createLogger({ level: 'warn', write: (line) => lines.push(line) }),
      }));
      sink.dispose();
      assert.equal(((await takeover) as { kind: string }).kind, 'claimed', 'the other worker took the claim');
      assert.equal(outcome.kind, 'wait');
      assert.equal(r.requests.length, 1, 'no batch after the claim was lost');
      assert.ok(lines.some((l) => l.includes('claim lost to another worker')), lines.join('\n'));
      assert.equal((await ledger.get(message))?.claim?.owner, 'other-worker');
    } finally {
      await r.close();
    }
  });
});
