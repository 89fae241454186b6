// A storage endpoint that accepts connections and never answers must cost a try timeout, not an invocation until
// the function timeout: the table client (our own per-try policy) fails the call. The queue client's SDK option of
// that name does not cut a try on the client, recorded below. Against a real socket that reads and stays silent.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEV_ACCOUNT, DEV_ACCOUNT_KEY } from '../dev/azurite';
import { createStorageAccount } from '../shared/state/storage-account';

describe('storage calls to an endpoint that never answers', () => {
  let server: Server;
  const sockets = new Set<Socket>();
  let connectionString = '';
  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined); // read the request, answer nothing
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${DEV_ACCOUNT}`;
    connectionString = `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=${url};QueueEndpoint=${url};TableEndpoint=${url};`;
  });
  after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });

  it('a table read fails after the try timeout instead of hanging', async () => {
    const table = createStorageAccount({ kind: 'connectionString', connectionString }, { tryTimeoutMs: 300 }).table('silent');
    const started = Date.now();
    await assert.rejects(table.getEntity('p', 'r'));
    const took = Date.now() - started;
    assert.ok(took >= 250 && took < 5_000, `took ${took} ms`);
  });

  it('a queue call is NOT cut by the SDK\'s tryTimeoutInMs (it only asks the server for a timeout): still waiting after 2 s', async () => {
    // What this records: blob and queue calls have no client-side timeout (left for a later change, e.g. abort
    // signals per call); if the SDK starts aborting on the client, this test fails and the comment in
    // storage-account.ts should change with it.
    const queue = createStorageAccount({ kind: 'connectionString', connectionString }, { quickCheckMs: 300 }).queue('silent');
    const abort = new AbortController();
    const outcome = await Promise.race([
      queue.getProperties({ abortSignal: abort.signal }).then(() => 'answered', () => 'failed'),
      new Promise((resolve) => setTimeout(resolve, 2_000, 'still waiting')),
    ]);
    abort.abort();
    assert.equal(outcome, 'still waiting');
  });
});
