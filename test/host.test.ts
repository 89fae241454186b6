// The dev host (dev/host) against in-process Azurite, with a tiny app registered through the real
// @azure/functions 4.16.5 API (test/support/host-app): also the smoke test of the library's internal contract
// with the host (`@azure/functions-core`, the programming model's invocation model). Plus the pure parts.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { locateApp } from '../dev/host/app-loader';
import { resolveAppSettingReferences, resolveBindingExpressions } from '../dev/host/binding-expressions';
import { hostSettings, parseTimeSpan } from '../dev/host/host-config';
import { azureMaxRequestBytes, startHttpServer } from '../dev/host/http-server';
import { startHost, type RunningHost } from '../dev/host/host';
import { compileRoute } from '../dev/host/http-route';
import { nextOccurrence, parseSchedule, ScheduleError } from '../dev/host/ncrontab';
import { nextPollingDelay } from '../dev/host/polling-delay';
import { decodeMessage, encodeMessage, queueMessages } from '../dev/host/typed-data';
import { createLogger } from '../shared/log';
import { callsFor, maxRunning } from './support/host-app/probe';

const repoRoot = join(__dirname, '..', '..');
const appPath = join(repoRoot, 'dist', 'test', 'support', 'host-app', 'index.js');
const hostJsonPath = join(repoRoot, 'test', 'support', 'host-app', 'host.json');
const quietLogger = createLogger({ level: 'error', write: () => {} });
const utc = (text: string) => new Date(text);
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('NCRONTAB schedules (pure)', () => {
  const next = (expression: string, after: string) => nextOccurrence(parseSchedule(expression), utc(after))?.toISOString();

  test('every 30 minutes, strictly after the base time', () => {
    assert.equal(next('0 */30 * * * *', '2026-01-01T10:00:00Z'), '2026-01-01T10:30:00.000Z');
    assert.equal(next('0 */30 * * * *', '2026-01-01T10:29:59.500Z'), '2026-01-01T10:30:00.000Z');
  });

  test('seconds field, lists, ranges and steps from a start value', () => {
    assert.equal(next('*/15 * * * * *', '2026-01-01T00:00:14Z'), '2026-01-01T00:00:15.000Z');
    assert.equal(next('5,40 0 9-17 * * *', '2026-01-01T17:00:41Z'), '2026-01-02T09:00:05.000Z');
    assert.equal(next('10/20 * * * * *', '2026-01-01T00:00:31Z'), '2026-01-01T00:00:50.000Z');
  });

  test('day and day-of-week must both match (NCrontab), names match by prefix', () => {
    // 2026-02-13 is a Friday: the first Friday the 13th after 1 Jan 2026.
    assert.equal(next('0 0 0 13 * Fri', '2026-01-01T00:00:00Z'), '2026-02-13T00:00:00.000Z');
    assert.equal(next('0 30 9 * Jan-Mar mon', '2026-03-31T10:00:00Z'), '2027-01-04T09:30:00.000Z');
  });

  test('29 February is found in the next leap year; 31 February never', () => {
    assert.equal(next('0 0 12 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T12:00:00.000Z');
    assert.equal(next('0 0 0 31 2 *', '2026-01-01T00:00:00Z'), undefined);
  });

  test('a TimeSpan schedule is an interval', () => {
    assert.equal(next('00:05:00', '2026-01-01T00:00:01Z'), '2026-01-01T00:05:01.000Z');
  });

  test('invalid expressions are rejected', () => {
    for (const bad of ['0 */30 * * *', '60 * * * * *', '* * * * * 7', '*/0 * * * * *', '0 0 0 * Foo *', '5-1 * * * * *', '']) {
      assert.throws(() => parseSchedule(bad), ScheduleError, bad);
    }
  });
});

describe('host building blocks (pure)', () => {
  test('host.json defaults and overrides', () => {
    const defaults = hostSettings({ version: '2.0' });
    assert.equal(defaults.routePrefix, 'api');
    assert.equal(defaults.queues.batchSize, 16);
    assert.equal(defaults.queues.maxDequeueCount, 5);
    assert.equal(defaults.queues.messageEncoding, 'base64');
    assert.equal(defaults.functionTimeoutMs, 5 * 60_000);
    const custom = hostSettings({ functionTimeout: '-1', extensions: { http: { routePrefix: '' }, queues: { batchSize: 8, newBatchThreshold: 2, visibilityTimeout: '00:00:30' } } });
    assert.equal(custom.routePrefix, '');
    assert.equal(custom.functionTimeoutMs, undefined);
    assert.equal(custom.queues.newBatchThreshold, 2);
    assert.equal(custom.queues.visibilityTimeoutMs, 30_000);
    assert.equal(parseTimeSpan('1.02:03:04.5'), ((26 * 60 + 3) * 60 + 4) * 1000 + 500);
    assert.throws(() => hostSettings({ extensions: { queues: { batchSize: 64 } } }));
  });

  test('route templates: literals, constraints, optional and catch-all params', () => {
    assert.deepEqual(compileRoute('o365/notify')('/O365/Notify'), {});
    assert.deepEqual(compileRoute('items/{id:int}')('/items/42'), { id: '42' });
    assert.equal(compileRoute('items/{id:int}')('/items/abc'), undefined);
    assert.deepEqual(compileRoute('items/{id?}')('/items'), {});
    assert.deepEqual(compileRoute('files/{*path}')('/files/a/b%20c'), { path: 'a/b c' });
    assert.equal(compileRoute('items')('/items/1'), undefined);
  });

  test('binding expressions: trigger data (case-insensitive, dotted) and built-ins', () => {
    const sources = { data: { ContentId: 'c-1', nested: { day: 7 } }, now: utc('2026-11-25T13:44:19.123Z'), newGuid: () => 'g-1' };
    assert.equal(resolveBindingExpressions('out/{contentId}/{nested.day}/{rand-guid}-{DateTime}.json', sources), 'out/c-1/7/g-1-2026-11-25T13-44-19Z.json');
    assert.throws(() => resolveBindingExpressions('out/{missing}.json', sources), /missing/);
    assert.equal(resolveAppSettingReferences('%PREFIX%-items', { PREFIX: 'work' }), 'work-items');
    assert.throws(() => resolveAppSettingReferences('%NOPE%', {}), /NOPE/);
  });

  test('queue outputs: one message per array element; encoding round trip', () => {
    assert.deepEqual(queueMessages({ json: JSON.stringify([{ a: 1 }, 'text']) }), ['{"a":1}', 'text']);
    assert.deepEqual(queueMessages({ string: 'one' }), ['one']);
    assert.equal(decodeMessage(encodeMessage('{"é":1}', 'base64'), 'base64'), '{"é":1}');
    assert.equal(decodeMessage('not base64!', 'base64'), undefined);
    assert.equal(decodeMessage('plain', 'none'), 'plain');
  });

  test('an app root is found through package.json `main`, a glob like the worker expands', () => {
    const root = mkdtempSync(join(tmpdir(), 'app-root-'));
    try {
      mkdirSync(join(root, 'dist', 'functions'), { recursive: true });
      for (const f of ['dist/index.js', 'dist/functions/b.js', 'dist/functions/a.js', 'dist/other.js']) writeFileSync(join(root, f), '');
      writeFileSync(join(root, 'package.json'), JSON.stringify({ main: 'dist/{index.js,functions/*.js}' }));
      const app = locateApp(root, '/');
      assert.equal(app.root, root);
      assert.deepEqual(app.files, ['dist/index.js', 'dist/functions/a.js', 'dist/functions/b.js'].map((f) => join(root, f)));
      assert.throws(() => locateApp('dist/missing/*.js', root), /No app files match/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('polling back-off doubles up to the maximum and resets after a message', () => {
    assert.equal(nextPollingDelay(100, false, 100, 2000, () => 0.5), 200);
    assert.equal(nextPollingDelay(1500, false, 100, 2000, () => 0.5), 2000);
    assert.equal(nextPollingDelay(2000, true, 100, 2000, () => 0.5), 100);
  });
});

test('startAzurite: one connection string serves blob, queue and table clients, and close() frees the ports', async () => {
  const azurite = await startAzurite();
  try {
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('probe');
    await blob.createIfNotExists();
    await blob.getBlockBlobClient('a.txt').upload('blob', 4);
    assert.equal((await blob.getBlockBlobClient('a.txt').downloadToBuffer()).toString(), 'blob');
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient('probe');
    await queue.createIfNotExists();
    await queue.sendMessage('queue');
    assert.equal((await queue.receiveMessages()).receivedMessageItems[0]?.messageText, 'queue');
    // data-tables refuses plain http without this option, whatever the connection string says.
    const table = TableClient.fromConnectionString(azurite.connectionString, 'probe', { allowInsecureConnection: true });
    await table.createTable();
    await table.createEntity({ partitionKey: 'p', rowKey: 'r', value: 'table' });
    assert.equal((await table.getEntity<{ value: string }>('p', 'r')).value, 'table');
    for (const url of [azurite.blobUrl, azurite.queueUrl, azurite.tableUrl]) assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
  } finally {
    await azurite.close();
  }
  await assert.rejects(fetch(azurite.queueUrl ?? ''));
});

describe('dev host with Azurite', () => {
  let azurite: RunningAzurite;
  let host: RunningHost;
  let queues: QueueServiceClient;
  let blobs: BlobServiceClient;

  const readResult = async (id: string) =>
    JSON.parse((await blobs.getContainerClient('results').getBlockBlobClient(`${id}.json`).downloadToBuffer()).toString('utf8')) as {
      item: { id: string };
      meta: Record<string, unknown>;
    };
  const enqueue = async (queueName: string, text: string) => {
    const queue = queues.getQueueClient(queueName);
    await queue.createIfNotExists();
    await queue.sendMessage(text);
  };
  const appSettings = () => ({ AzureWebJobsStorage: azurite.connectionString, SLOW_QUEUE: 'slow-items' });
  const count = async (queueName: string) => (await queues.getQueueClient(queueName).getProperties()).approximateMessagesCount;

  before(async () => {
    azurite = await startAzurite({ table: false });
    queues = QueueServiceClient.fromConnectionString(azurite.connectionString);
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
    // A 1 s lease (renewed every 0.5 s) lets the long-running test outlast several leases quickly.
    host = await startHost({ appPath, hostJsonPath, env: appSettings(), logger: quietLogger, messageLeaseMs: 1000 });
  });

  after(async () => {
    await host?.close();
    await azurite?.close();
  });

  test('registrations from the real @azure/functions reach the host', () => {
    assert.deepEqual(host.functions.map((f) => [f.name, f.trigger.kind]).sort(), [
      ['flaky', 'queue'], ['item', 'http'], ['notify', 'http'], ['parallel', 'queue'], ['sleep', 'http'], ['slow', 'queue'], ['tick', 'timer'], ['worker', 'queue'],
    ]);
    const slow = host.functions.find((f) => f.name === 'slow');
    assert.equal(slow?.trigger.kind === 'queue' && slow.trigger.queueName, 'slow-items');
  });

  test('HTTP POST answers with status, headers and JSON body; queue output → queue trigger → blob output', async () => {
    const res = await fetch(`${host.url}/api/o365/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ id: 'rt-1' }, { id: 'rt-2' }]),
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('x-queued'), '2');
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { queued: 2 });

    await host.idle();
    for (const id of ['rt-1', 'rt-2']) {
      const result = await readResult(id);
      assert.deepEqual(result.item, { id });
      assert.equal(result.meta['dequeueCount'], 1);
      // The library JSON-parses string trigger metadata too (fromRpcTriggerMetadata → fromRpcTypedData).
      assert.deepEqual(result.meta['queueTrigger'], { id });
      for (const key of ['id', 'popReceipt', 'insertionTime', 'expirationTime', 'nextVisibleTime']) {
        assert.equal(typeof result.meta[key], 'string', key);
      }
      assert.ok(!Number.isNaN(Date.parse(String(result.meta['insertionTime']))));
    }
    assert.equal(await count('work-items'), 0);
  });

  test('a message a producer base64-encodes itself is decoded and JSON-parsed', async () => {
    await enqueue('work-items', base64(JSON.stringify({ id: 'producer-1' })));
    await host.idle();
    assert.deepEqual((await readResult('producer-1')).item, { id: 'producer-1' });
  });

  test('an invalid request body gets the handler\'s 400', async () => {
    const res = await fetch(`${host.url}/api/o365/notify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'expected a non-empty array of items' });
  });

  test('an HttpResponse return value, route params and query', async () => {
    const res = await fetch(`${host.url}/api/items/42?q=x`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: '42', q: 'x' });
  });

  test('unknown routes, failed constraints and other methods 404', async () => {
    for (const [method, path] of [['GET', '/api/nope'], ['GET', '/api/items/abc'], ['POST', '/api/items/42'], ['GET', '/items/42']] as const) {
      const res = await fetch(`${host.url}${path}`, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      await res.arrayBuffer();
    }
  });

  test('a failing message runs maxDequeueCount times, seeing its dequeueCount, then moves to <queue>-poison', async () => {
    const text = base64(JSON.stringify({ id: 'poison-1' }));
    await enqueue('flaky-items', text);
    await host.idle();
    assert.deepEqual(callsFor('flaky', 'poison-1').map((c) => c.dequeueCount), [1, 2, 3]);
    assert.equal(await count('flaky-items'), 0);
    const poisoned = await queues.getQueueClient('flaky-items-poison').receiveMessages({ numberOfMessages: 32 });
    assert.deepEqual(poisoned.receivedMessageItems.map((m) => m.messageText), [text]);
    for (const m of poisoned.receivedMessageItems) await queues.getQueueClient('flaky-items-poison').deleteMessage(m.messageId, m.popReceipt);
  });

  test('a message that is not base64 is poisoned without running the function', async () => {
    await enqueue('flaky-items', '{"id":"raw-1"}');
    await host.idle();
    assert.equal(callsFor('flaky', 'raw-1').length, 0);
    const poisoned = await queues.getQueueClient('flaky-items-poison').receiveMessages({ numberOfMessages: 32 });
    assert.deepEqual(poisoned.receivedMessageItems.map((m) => m.messageText), ['{"id":"raw-1"}']);
  });

  test('a message running longer than its lease is renewed, not delivered twice', async () => {
    await enqueue('slow-items', base64(JSON.stringify({ id: 'long-1', sleepMs: 1800 })));
    await host.idle();
    assert.deepEqual(callsFor('slow', 'long-1').map((c) => c.dequeueCount), [1]);
    assert.equal(await count('slow-items'), 0);
  });

  test('no more than batchSize + newBatchThreshold messages run at once', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `par-${i}`);
    for (const id of ids) await enqueue('parallel-items', base64(JSON.stringify({ id, sleepMs: 150 })));
    await host.idle();
    assert.deepEqual(ids.map((id) => callsFor('parallel', id).length), ids.map(() => 1));
    const max = maxRunning.get('parallel') ?? 0;
    assert.ok(max >= 1 && max <= 4 + 2, `at most 6 at once, saw ${max}`);
  });

  test('fireTimer runs a timer function with the Timer object; its queue output flows on', async () => {
    await host.fireTimer('tick');
    const [call] = callsFor('tick', 'tick');
    const nextNewYear = new Date(Date.UTC(new Date().getUTCFullYear() + 1, 0, 1)).toISOString();
    assert.deepEqual(call?.detail, { isPastDue: false, next: nextNewYear });
    await host.idle();
    assert.deepEqual((await readResult('from-timer')).item, { id: 'from-timer' });
    await assert.rejects(host.fireTimer('no-such-timer'), /no-such-timer/);
  });

  describe('functionTimeout', () => {
    let dir: string;
    let strictHost: RunningHost;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'host-json-'));
      const strictHostJson = join(dir, 'host.json');
      writeFileSync(strictHostJson, JSON.stringify({ version: '2.0', functionTimeout: '00:00:01', extensions: { queues: { maxDequeueCount: 1 } } }));
      // Same app in the same process: the registrations are already known, and queues are drained by now.
      // Its `slow` function listens on its own queue (%SLOW_QUEUE%), so the first host cannot take those messages.
      strictHost = await startHost({ appPath, hostJsonPath: strictHostJson, env: { ...appSettings(), SLOW_QUEUE: 'slow-strict' }, logger: quietLogger });
    });
    after(async () => {
      await strictHost?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('an invocation over time fails (500); one within time answers', async () => {
      const fast = await fetch(`${strictHost.url}/api/sleep/0`);
      assert.equal(fast.status, 200);
      assert.equal(await fast.text(), 'awake');
      const slow = await fetch(`${strictHost.url}/api/sleep/1500`);
      assert.equal(slow.status, 500);
      await slow.arrayBuffer();
    });

    test('a queue invocation over time is a failed attempt (here the last: poisoned)', async () => {
      await enqueue('slow-strict', base64(JSON.stringify({ id: 'timeout-1', sleepMs: 1500 })));
      await strictHost.idle();
      assert.deepEqual(callsFor('slow', 'timeout-1').map((c) => c.dequeueCount), [1]);
      assert.equal(await count('slow-strict'), 0);
      assert.equal(await count('slow-strict-poison'), 1);
    });
  });
});

describe('the local host refuses request bodies over the limit as they stream in', () => {
  const limit = 1024 * 1024;
  /** Sends `total` bytes in 64 KB chunks (chunked, no Content-Length); resolves with the status and what was sent. */
  function post(url: string, total: number, headers: Record<string, string> = {}): Promise<{ status: number; sent: number }> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      const req = httpRequest(url, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sent }));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x5b);
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  }

  test('413 before the body is read whole; the function never runs; a body under the limit reaches it', async () => {
    assert.equal(azureMaxRequestBytes, 104_857_600);
    const bodies: number[] = [];
    const server = await startHttpServer({
      routePrefix: 'api',
      port: 0,
      logger: quietLogger,
      maxRequestBytes: limit,
      functions: [{
        functionName: 'probe', triggerBindingName: 'req', route: 'probe', methods: ['POST'],
        run: async (request) => {
          bodies.push((request.inputData[0]?.data as { http: { body?: { bytes: Uint8Array } } }).http.body?.bytes.length ?? 0);
          return { returnValue: { http: { statusCode: '200' } } };
        },
      }],
    });
    try {
      // 200 MB announced in chunks: the answer comes long before the sender is done, and the rest is never read.
      const big = await post(`${server.url}/api/probe`, 200 * 1024 * 1024);
      assert.equal(big.status, 413);
      assert.ok(big.sent < 64 * 1024 * 1024, `the sender was stopped early (sent ${big.sent} bytes)`);
      const declared = await fetch(`${server.url}/api/probe`, { method: 'POST', headers: { 'content-length': String(limit + 1) }, body: Buffer.alloc(limit + 1) });
      assert.equal(declared.status, 413);
      assert.equal((await post(`${server.url}/api/nowhere`, 4 * limit)).status, 413);
      assert.deepEqual(bodies, []);
      assert.equal((await post(`${server.url}/api/probe`, limit)).status, 200);
      assert.deepEqual(bodies, [limit]);
    } finally {
      await server.close();
    }
  });
});
