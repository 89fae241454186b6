import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { DEV_ACCOUNT_KEY, startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords } from '../dev/record-generator';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { toAuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { contentBlobName } from '../shared/sinks/blob-path';
import { createBlobSink, type BlobSinkOptions } from '../shared/sinks/blob-sink';
import { SinkError, type ContentRef } from '../shared/sinks/sink';
import { readFixture } from './support/fixtures';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const contentId = '20241125143712123000024$20241125143712123000024$audit_exchange$Audit_Exchange$emea0026';
const ref = (over: Partial<ContentRef> = {}): ContentRef => ({
  tenantId, contentType: 'Audit.Exchange', contentId, contentCreated: '2024-11-25T14:37:12.123Z', ...over,
});
const exchange = readFixture<unknown[]>('content', 'Audit.Exchange.json').map(decodeRecord);
const lineText = (records: readonly DecodedRecord[]) => records.map((r) => formatLine(r) + '\n').join('');

let azurite: RunningAzurite;
let service: BlobServiceClient;
let containers = 0;
function freshSink(over: Partial<BlobSinkOptions> = {}) {
  const container = `relay${++containers}`;
  const sink = createBlobSink({ connectionString: azurite.connectionString, container, format: 'line', ...over } as BlobSinkOptions);
  return { sink, container: service.getContainerClient(container) };
}

/** Writes `records` through a fresh writer in batches, as the worker does. */
async function deliver(sink: ReturnType<typeof freshSink>['sink'], content: ContentRef, records: readonly DecodedRecord[], batch = 10) {
  const writer = await sink.open(content, { resumeAfter: 0 });
  for (let i = 0; i < records.length; i += batch) await writer.write(records.slice(i, i + batch));
  await writer.close();
  return writer;
}

before(async () => {
  azurite = await startAzurite({ blob: true, queue: false, table: false });
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => {
  await azurite.close();
});

describe('blob names', () => {
  it('lay content out by tenant, type and UTC hour of contentCreated', () => {
    assert.deepEqual(contentBlobName(ref(), 'line'), { ok: true, name: `${tenantId}/Audit.Exchange/2024/11/25/14/${contentId}.log` });
    assert.deepEqual(contentBlobName(ref({ contentCreated: '2024-11-26T01:30:00+02:00', contentType: 'DLP.All' }), 'json'),
      { ok: true, name: `${tenantId}/DLP.All/2024/11/25/23/${contentId}.ndjson` });
    // No zone means UTC, whatever the machine's time zone.
    assert.deepEqual(contentBlobName(ref({ contentCreated: '2024-01-01T00:00:00' }), 'line'), { ok: true, name: `${tenantId}/Audit.Exchange/2024/01/01/00/${contentId}.log` });
  });

  it('refuse anything that could change the path', () => {
    for (const bad of ['../x', 'a/b', 'a\\b', '..', '.', '.hidden', 'a..b', 'a\u0000b', 'a\nb', 'a%2Fb', 'a?b', 'a#b', 'a b', '', 'x'.repeat(513), 'é']) {
      const result = contentBlobName(ref({ contentId: bad }), 'line');
      assert.equal(result.ok, false, JSON.stringify(bad));
    }
    assert.equal(contentBlobName(ref({ tenantId: '../other' }), 'line').ok, false);
    assert.equal(contentBlobName(ref({ contentType: 'Audit/../x' as ContentRef['contentType'] }), 'line').ok, false);
  });

  it('never refuse a blob for its time: a contentCreated that is not an API time lands under undated/', () => {
    for (const odd of ['yesterday', '', '1 2 3', 'March 7', '2024-02-30T00:00:00Z', '2024-11-25 14:37']) {
      assert.deepEqual(contentBlobName(ref({ contentCreated: odd }), 'line'), { ok: true, name: `${tenantId}/Audit.Exchange/undated/${contentId}.log` }, odd);
    }
    // Seven fractional digits, as the API writes them, are an API time.
    assert.deepEqual(contentBlobName(ref({ contentCreated: '2024-11-25T14:37:12.1234567' }), 'line'), { ok: true, name: `${tenantId}/Audit.Exchange/2024/11/25/14/${contentId}.log` });
  });
});

describe('blob sink on Azurite', () => {
  it('writes the fixture blob as formatted lines, once, with its metadata, creating the container', async () => {
    const { sink, container } = freshSink();
    const writer = await sink.open(ref(), { resumeAfter: 0 });
    await writer.write(exchange.slice(0, 20));
    await writer.write(exchange.slice(20));
    assert.equal(writer.accepted, 0); // nothing accepted before the commit
    await writer.close();
    assert.equal(writer.accepted, exchange.length);
    assert.equal(writer.alreadyDelivered, false);
    const names: string[] = [];
    for await (const item of container.listBlobsFlat()) names.push(item.name);
    assert.deepEqual(names, [`${tenantId}/Audit.Exchange/2024/11/25/14/${contentId}.log`]);
    const blob = container.getBlockBlobClient(names[0]!);
    assert.equal((await blob.downloadToBuffer()).toString('utf8'), lineText(exchange));
    const props = await blob.getProperties();
    assert.deepEqual(props.metadata, {
      recordcount: '33',
      firstcreationtime: '2024-05-14T07:12:49.000Z',
      lastcreationtime: '2024-05-14T11:15:47.000Z',
      tenantid: tenantId,
      contenttype: 'Audit.Exchange',
      contentid: contentId,
      format: 'line',
    });
    assert.equal(props.contentType, 'text/plain; charset=utf-8');
  });

  it('writes one JSON event per line in the json format', async () => {
    const { sink, container } = freshSink({ format: 'json' });
    const writer = await deliver(sink, ref(), exchange);
    assert.match(writer.blobName, /\.ndjson$/);
    const text = (await container.getBlockBlobClient(writer.blobName).downloadToBuffer()).toString('utf8');
    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    assert.deepEqual(lines.map((l) => JSON.parse(l)), exchange.map((r) => JSON.parse(JSON.stringify(toAuditEvent(r, formatLine(r))))));
    assert.equal((await container.getBlockBlobClient(writer.blobName).getProperties()).contentType, 'application/x-ndjson');
  });

  it('a second delivery of the same content does not overwrite the first and resolves', async () => {
    const { sink, container } = freshSink();
    const first = await deliver(sink, ref(), exchange);
    const original = await container.getBlockBlobClient(first.blobName).getProperties();
    const again = await sink.open(ref(), { resumeAfter: 0 });
    assert.equal(again.alreadyDelivered, true);
    await again.write(exchange.slice(0, 5));
    await again.close();
    assert.equal(again.accepted, 5);
    const now = await container.getBlockBlobClient(first.blobName).getProperties();
    assert.equal(now.etag, original.etag);
    assert.equal((await container.getBlockBlobClient(first.blobName).downloadToBuffer()).toString('utf8'), lineText(exchange));
  });

  it('of two writers racing on the same content, one commits whole and the other resolves without mixing blocks', async () => {
    const { sink, container } = freshSink({ blockBytes: 1024 });
    const a = await sink.open(ref(), { resumeAfter: 0 });
    const b = await sink.open(ref(), { resumeAfter: 0 });
    await a.write(exchange);
    await b.write(exchange.slice(0, 10));
    await b.close();
    await a.close();
    assert.deepEqual([a.alreadyDelivered, b.alreadyDelivered], [true, false]);
    assert.equal((await container.getBlockBlobClient(b.blobName).downloadToBuffer()).toString('utf8'), lineText(exchange.slice(0, 10)));
  });

  it('stages large input in several blocks and commits it whole', async () => {
    const { sink, container } = freshSink();
    const count = 50_000;
    const expected = createHash('sha256');
    const writer = await sink.open(ref(), { resumeAfter: 0 });
    let batch: DecodedRecord[] = [];
    let bytes = 0;
    for (const raw of generateRecords(count)) {
      const record = decodeRecord(raw);
      const line = formatLine(record) + '\n';
      expected.update(line);
      bytes += Buffer.byteLength(line);
      batch.push(record);
      if (batch.length === 2_000) {
        await writer.write(batch);
        batch = [];
      }
    }
    await writer.write(batch);
    await writer.close();
    assert.equal(writer.accepted, count);
    const blob = container.getBlockBlobClient(writer.blobName);
    const blocks = await blob.getBlockList('committed');
    const sizes = (blocks.committedBlocks ?? []).map((b) => b.size);
    assert.ok(sizes.length >= Math.floor(bytes / (4 * 1024 * 1024)) && sizes.length > 1, `${sizes.length} blocks for ${bytes} bytes`);
    // Each block closes at the first record past 4 MiB: bounded by the block size plus one line.
    for (const size of sizes) assert.ok(size < 4 * 1024 * 1024 + 64 * 1024, `block of ${size} bytes`);
    const actual = createHash('sha256').update(await blob.downloadToBuffer()).digest('hex');
    assert.equal(actual, expected.digest('hex'));
    assert.equal((await blob.getProperties()).metadata?.recordcount, String(count));
  });

  it('records without an API time still land, among good ones, and only the good times make the metadata', async () => {
    const { sink, container } = freshSink();
    const odd = [exchange[0]!, exchange[1]!].map((r, i) => decodeRecord({ ...(r.raw as Record<string, unknown>), CreationTime: i === 0 ? 'March 7' : 12 }));
    const records = [exchange[2]!, odd[0]!, exchange[3]!, odd[1]!];
    const writer = await deliver(sink, ref({ contentCreated: 'not a time' }), records, 1);
    assert.equal(writer.blobName, `${tenantId}/Audit.Exchange/undated/${contentId}.log`);
    assert.equal(writer.accepted, 4);
    const blob = container.getBlockBlobClient(writer.blobName);
    assert.equal((await blob.downloadToBuffer()).toString('utf8'), lineText(records));
    const times = [exchange[2]!, exchange[3]!].map((r) => new Date(`${String(r.common.CreationTime)}Z`).getTime()).sort((a, b) => a - b);
    const props = await blob.getProperties();
    assert.equal(props.metadata?.firstcreationtime, new Date(times[0]!).toISOString());
    assert.equal(props.metadata?.lastcreationtime, new Date(times[1]!).toISOString());
  });

  it('an empty content blob still leaves its (empty) blob behind, without time metadata', async () => {
    const { sink, container } = freshSink();
    const writer = await deliver(sink, ref(), []);
    const props = await container.getBlockBlobClient(writer.blobName).getProperties();
    assert.equal(props.contentLength, 0);
    assert.equal(props.metadata?.recordcount, '0');
    assert.equal(props.metadata?.firstcreationtime, undefined);
  });

  it('abort drops what was staged: nothing is committed, and a later attempt delivers', async () => {
    const { sink, container } = freshSink({ blockBytes: 1024 });
    const writer = await sink.open(ref(), { resumeAfter: 0 });
    await writer.write(exchange);
    await writer.abort();
    await assert.rejects(writer.write(exchange), /aborted/);
    assert.equal(await container.getBlockBlobClient(writer.blobName).exists(), false);
    assert.equal(writer.accepted, 0);
    const retry = await deliver(sink, ref(), exchange);
    assert.equal((await container.getBlockBlobClient(retry.blobName).downloadToBuffer()).toString('utf8'), lineText(exchange));
  });

  it('a container deleted under the sink is a retryable failure, and the next delivery creates it again', async () => {
    const { sink, container } = freshSink();
    await deliver(sink, ref({ contentId: 'first' }), exchange);
    await container.delete();
    const writer = await sink.open(ref(), { resumeAfter: 0 });
    await assert.rejects(writer.close(), (err: unknown) => err instanceof SinkError && err.retryable && /ContainerNotFound/.test(err.message));
    await assert.rejects(writer.write(exchange), SinkError); // a failed writer stays failed
    const retry = await deliver(sink, ref(), exchange);
    assert.equal((await container.getBlockBlobClient(retry.blobName).downloadToBuffer()).toString('utf8'), lineText(exchange));
  });

  it('refuses unsafe content ids at open with a permanent SinkError and writes nothing', async () => {
    const { sink, container } = freshSink({ name: 'archive' });
    for (const bad of ['../../escape', 'a/b', 'a\\b', '..', 'a\u0001b']) {
      await assert.rejects(sink.open(ref({ contentId: bad }), { resumeAfter: 0 }), (err: unknown) =>
        err instanceof SinkError && !err.retryable && err.sink === 'archive' && err.code === 'SINK_REJECTED');
    }
    assert.equal(await container.exists(), false);
  });
});

describe('blob sink failures', () => {
  it('an unreachable account is a retryable SinkError whose message names no secret', async () => {
    const down = await startAzurite({ blob: true, queue: false, table: false });
    const connectionString = down.connectionString;
    await down.close();
    const containerClient = BlobServiceClient.fromConnectionString(connectionString, { retryOptions: { maxTries: 1 } }).getContainerClient('relay');
    const sink = createBlobSink({ containerClient, format: 'line' });
    await assert.rejects(sink.open(ref(), { resumeAfter: 0 }), (err: unknown) => {
      assert.ok(err instanceof SinkError);
      assert.equal(err.retryable, true);
      assert.equal(err.code, 'SINK_UNAVAILABLE');
      assert.doesNotMatch(err.message, /AccountKey|Eby8vdM02x|http:/);
      return true;
    });
  });

  it('a wrong account key is a permanent SinkError', async () => {
    const wrongKey = Buffer.from('not the key, not the key, not the key!!').toString('base64');
    const sink = createBlobSink({ connectionString: azurite.connectionString.replace(DEV_ACCOUNT_KEY, wrongKey), container: 'relay', format: 'line' });
    await assert.rejects(sink.open(ref(), { resumeAfter: 0 }), (err: unknown) => {
      assert.ok(err instanceof SinkError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /HTTP 403/);
      assert.ok(!err.message.includes(wrongKey));
      return true;
    });
  });

  it('an unparsable connection string is refused without quoting it', () => {
    assert.throws(() => createBlobSink({ connectionString: 'AccountKey=s3cr3t-value;nonsense', container: 'c', format: 'line' }), (err: unknown) =>
      err instanceof SinkError && !err.retryable && !err.message.includes('s3cr3t'));
  });
});
