import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QueueClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { repoRoot } from './support/fixtures';

let azurite: RunningAzurite;
before(async () => {
  azurite = await startAzurite({ blob: false, queue: true, table: false });
});
after(() => azurite.close());

// Asynchronous on purpose: Azurite runs in this process and must keep answering while the CLI runs.
const run = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(repoRoot, 'dist', 'cli', 'main.js'), 'replay-poison', ...args], {
      env: {
        PATH: process.env.PATH,
        AzureWebJobsStorage: azurite.connectionString,
        O365_TENANT_ID: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
        O365_USE_MANAGED_IDENTITY: 'true',
      },
    });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { status: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
};

describe('o365-relay replay-poison', () => {
  it('moves poisoned messages back to the content queue unchanged', async () => {
    const poison = new QueueClient(azurite.connectionString, 'o365-content-poison');
    const target = new QueueClient(azurite.connectionString, 'o365-content');
    await poison.createIfNotExists();
    await target.createIfNotExists();
    const texts = ['bWVzc2FnZS0x', 'bWVzc2FnZS0y', 'bWVzc2FnZS0z'];
    for (const text of texts) await poison.sendMessage(text);

    const dry = await run(['--dry-run']);
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /would replay 3 message/);

    const r = await run([]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /replayed 3 message/);
    const moved = await target.receiveMessages({ numberOfMessages: 10 });
    assert.deepEqual(moved.receivedMessageItems.map((m) => m.messageText).sort(), texts);
    assert.equal((await poison.getProperties()).approximateMessagesCount, 0);
  });
});
