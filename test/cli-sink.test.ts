// decode --sink: a fixture delivered to a configured sink (the blob sink on Azurite) instead of printed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { fixturePath, repoRoot } from './support/fixtures';
import { eventId, startReceiver } from './support/siem-receiver';

let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite({ blob: true, queue: false, table: false });
});
after(() => azurite.close());

// Asynchronous on purpose: Azurite runs in this process and must keep answering while the CLI runs.
async function run(args: string[], extra: Record<string, string> = {}) {
  const env = {
    PATH: process.env.PATH,
    AzureWebJobsStorage: azurite.connectionString,
    O365_TENANT_ID: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
    O365_USE_MANAGED_IDENTITY: 'true',
    O365_SINKS: JSON.stringify([{ kind: 'blob', name: 'archive', container: 'cli-sink-test', format: 'json' }]),
    ...extra,
  };
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('o365-relay decode --sink', () => {
  it('delivers every record of a fixture to the named sink and prints nothing', async () => {
    const file = fixturePath('content', 'Audit.SharePoint.json');
    const r = await run(['decode', '--sink', 'archive', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /sink archive: 19 delivered, 0 rejected\n/);
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('cli-sink-test');
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^3e1a9b42-f5fb-49f0-ad1b-05d97491bc66\/Audit\.SharePoint\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/cli\$.*\.ndjson$/);
    const events = (await container.getBlockBlobClient(names[0]!).downloadToBuffer()).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string });
    const ids = (JSON.parse(readFileSync(file, 'utf8')) as Array<{ Id: string }>).map((r) => r.Id);
    assert.deepEqual(events.map((e) => e.id), ids);
  });

  it('names the configured sinks when asked for an unknown one', async () => {
    const r = await run(['decode', '--sink', 'nope', fixturePath('content', 'DLP.All.json')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no sink of that name in O365_SINKS \(configured: archive\)/);
  });

  it('says how many records the destination rejected, and why, and exits 3', async () => {
    const file = fixturePath('content', 'Audit.SharePoint.json');
    const ids = (JSON.parse(readFileSync(file, 'utf8')) as Array<{ Id: string }>).map((r) => r.Id);
    const bad = new Set([ids[4]!, ids[11]!]);
    const receiver = await startReceiver({ protocol: 'json', token: 'cli-sink-test-token-0123456789', badEvent: (e) => bad.has(eventId(e) ?? '') });
    try {
      const r = await run(['decode', '--sink', 'siem', file], {
        SIEM_TOKEN: 'cli-sink-test-token-0123456789',
        O365_SINKS: JSON.stringify([{ kind: 'https-json', name: 'siem', url: `${receiver.url}/in`, tokenSetting: 'SIEM_TOKEN' }]),
      });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /sink siem: 17 delivered, 2 rejected \(.*400.*\)/);
      assert.deepEqual(receiver.accepted.map(eventId), ids.filter((id) => !bad.has(id)));
      assert.ok(!r.stderr.includes('cli-sink-test-token-0123456789'));
    } finally {
      await receiver.close();
    }
  });
});
