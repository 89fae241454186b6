// Input cut short is not bad data: a gzip stream that ends early or is damaged is a retryable InputCutShortError,
// a source that fails under gzip (a dropped connection) fails the read with its own error (it used to go unhandled
// and end the process), and the worker waits on either without dead-lettering anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords } from '../dev/record-generator';
import { processContent } from '../shared/pipeline/process-content';
import { decodeStream } from '../shared/records/decode-stream';
import { InputCutShortError } from '../shared/records/input';
import { createTableLedger } from '../shared/state/table-ledger';
import { workerDeps } from './support/worker-deps';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const records = [...generateRecords(200, { seed: 3 })].map((r) => ({ ...r, OrganizationId: tenantId }));
const gz = gzipSync(Buffer.from(JSON.stringify(records)));

async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield part;
}
async function drain(source: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const batch of decodeStream(source)) n += batch.records.length;
  return n;
}

let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite({ table: true });
});
after(() => azurite.close());

describe('input cut short', () => {
  it('a whole gzip stream decodes; one cut anywhere, or damaged, is a retryable InputCutShortError', async () => {
    assert.equal(await drain(chunks(gz)), records.length);
    for (const at of [20, Math.floor(gz.length / 2), gz.length - 3]) {
      await assert.rejects(drain(chunks(gz.subarray(0, at))), (err: unknown) => err instanceof InputCutShortError && err.retryable);
    }
    const damaged = Buffer.from(gz);
    damaged.fill(0xff, 40, 80);
    await assert.rejects(drain(chunks(damaged)), InputCutShortError);
  });

  it('a source that fails under gzip fails the read with its own error', async () => {
    async function* dropped(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 100);
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    await assert.rejects(drain(dropped()), (err: unknown) => (err as { code?: string }).code === 'ECONNRESET');
  });

  it('the worker waits on a gzip body cut short and dead-letters nothing', async () => {
    const kept: unknown[] = [];
    const put = async (...args: unknown[]) => void kept.push(args);
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'inputcutshort' });
    const message = {
      tenantId,
      contentType: 'Audit.Exchange' as const,
      contentId: 'gzip$cut$0001',
      contentCreated: new Date().toISOString(),
      contentExpiration: new Date(Date.now() + 86_400_000).toISOString(),
      waits: 0,
    };
    const outcome = await processContent(message, workerDeps({
      ledger,
      fetchContent: async () => chunks(gz.subarray(0, Math.floor(gz.length / 2))),
      deadLetter: { put, openSpan: () => ({ write: put, close: put, abort: async () => undefined }) },
    }));
    assert.equal(outcome.kind, 'wait');
    assert.match(outcome.kind === 'wait' ? outcome.reason : '', /gzip/);
    assert.deepEqual(kept, []);
    assert.equal((await ledger.get(message))?.state, 'enqueued');
  });
});
