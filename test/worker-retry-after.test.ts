// The content worker hands a throttled fetch back to the queue: when the API asked for a Retry-After longer than
// the client waits in-process, the re-enqueue delay must be at least that long (not the shorter default wait).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiError } from '../shared/api/errors';
import { processContent, type ContentWorkerDeps } from '../shared/pipeline/process-content';
import { createTableLedger } from '../shared/state/table-ledger';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { workerDeps } from './support/worker-deps';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
let azurite: RunningAzurite;

before(async () => {
  azurite = await startAzurite({ table: true });
});
after(async () => {
  await azurite.close();
});

function deps(fetchError: Error): ContentWorkerDeps {
  return workerDeps({ ledger: createTableLedger({ connectionString: azurite.connectionString }), fetchContent: () => Promise.reject(fetchError) });
}

const message = (contentId: string) => ({
  tenantId,
  contentType: 'Audit.Exchange' as const,
  contentId,
  contentCreated: new Date().toISOString(),
  contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  waits: 0,
});

describe('content worker: throttled fetch', () => {
  it('re-enqueues no sooner than the API\'s Retry-After', async () => {
    const throttled = apiError('AF429', { status: 429, retryAfterMs: 300_000 });
    const outcome = await processContent(message('20261125000000000000001$x$audit_exchange$Audit_Exchange$na0034'), deps(throttled));
    assert.equal(outcome.kind, 'wait');
    assert.ok(outcome.kind === 'wait' && outcome.delayMs >= 300_000, `re-enqueued after ${outcome.kind === 'wait' ? outcome.delayMs : '-'} ms`);
  });

  it('without a Retry-After, waits the usual growing delay (shorter)', async () => {
    const outcome = await processContent(message('20261125000000000000002$x$audit_exchange$Audit_Exchange$na0034'), deps(apiError('AF429', { status: 403 })));
    assert.equal(outcome.kind, 'wait');
    assert.ok(outcome.kind === 'wait' && outcome.delayMs >= 1000 && outcome.delayMs < 300_000);
  });
});
