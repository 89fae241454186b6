// O365_MAX_RECORD_BYTES: a ~45 MB record among good ones is never held whole. A child process runs the worker over
// it (real ledger and dead letter on Azurite): the good records are delivered, the big one is in the dead letter
// uploaded block by block with its offset and size, the blob ends delivered-with-problems, and the memory the
// worker used grew by well under the record's size. The CLI reports such a record like any invalid input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { defaultMaxRecordBytes } from '../shared/records/scanner';
import { createTableLedger } from '../shared/state/table-ledger';
import { repoRoot } from './support/fixtures';

const run = promisify(execFile);
let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite({ memoryLimitBytes: 512 * 1024 * 1024 });
});
after(() => azurite.close());

describe('the record size cap', () => {
  it('a 45 MB record goes to the dead letter streamed, the records around it are delivered, memory stays bounded', async () => {
    const child = await run(process.execPath, ['--expose-gc', path.join(repoRoot, 'dist', 'test', 'support', 'oversize-blob-worker.js')], {
      env: { ...process.env, O365_TEST_STORAGE: azurite.connectionString },
      maxBuffer: 16 * 1024 * 1024,
    });
    const report = JSON.parse(child.stdout) as {
      outcome: { kind: string; invalidSpans?: number };
      received: string[];
      expected: string[];
      peakGrowth: number;
      bigSize: number;
      bigOffset: number;
      contentId: string;
    };
    assert.equal(report.outcome.kind, 'delivered');
    assert.equal(report.outcome.invalidSpans, 1);
    assert.deepEqual(report.received, report.expected, 'every good record, once, in order');
    assert.ok(report.bigSize > 45 * 1024 * 1024);
    // Held whole, the record would cost its size at least twice (bytes, then a string): here the cap and a block.
    assert.ok(report.peakGrowth < defaultMaxRecordBytes + 12 * 1024 * 1024, `memory grew by ${Math.round(report.peakGrowth / 1048576)} MiB`);

    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('o365-dead-letter-cap');
    const names = [];
    for await (const blob of container.listBlobsFlat({ includeMetadata: true })) names.push(blob);
    assert.equal(names.length, 1);
    const span = names[0]!;
    assert.equal(span.metadata?.offset, String(report.bigOffset));
    assert.equal(span.metadata?.size, String(report.bigSize));
    assert.match(span.metadata?.reason ?? '', /larger than O365_MAX_RECORD_BYTES/);
    assert.equal(span.properties.contentLength, report.bigSize);
    const blob = container.getBlockBlobClient(span.name);
    assert.ok((await blob.getBlockList('committed')).committedBlocks!.length > 1, 'uploaded block by block');
    assert.match((await blob.downloadToBuffer(0, 40)).toString(), /^\{"Id":"huge"/);
    assert.equal((await blob.downloadToBuffer(report.bigSize - 4, 4)).toString(), 'xx"}');

    const entry = await createTableLedger({ connectionString: azurite.connectionString, tableName: 'recordsizecap' }).get({ tenantId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66', contentId: report.contentId });
    assert.equal(entry?.state, 'delivered-with-problems');
  });

  it('o365-relay decode reports a record over the cap with its file and offset, and prints the rest', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'o365-cap-'));
    try {
      const file = path.join(work, 'big.json');
      const small = '{"Id":"a","RecordType":1,"Operation":"Set-Mailbox","CreationTime":"2024-05-14T00:00:00"}';
      const big = `{"Id":"big","Blob":"${'x'.repeat(defaultMaxRecordBytes + 1024)}"}`;
      writeFileSync(file, `[${small},${big},${small.replace('"a"', '"b"')}]`);
      const r = spawnSync(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'decode', file], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout.split('\n').filter((l) => l !== '').length, 2);
      assert.match(r.stderr, new RegExp(`big\\.json: line 1, byte ${small.length + 2}: record larger than O365_MAX_RECORD_BYTES \\(${defaultMaxRecordBytes}\\): ${big.length} bytes`));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
