import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seededRandom } from '../dev/record-generator';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';
import { HttpsJsonSinkSettings, createHttpsJsonSink } from '../shared/sinks/https-json-sink';
import { SinkError } from '../shared/sinks/sink';
import { readFixture } from './support/fixtures';
import { content, deliver, deliverExpectingFailure, fakeClock, idsOf, records, testContext } from './support/sink-harness';
import { duplicates, eventId, startReceiver, type Fault, type Receiver } from './support/siem-receiver';
import { decodeRecord } from '../shared/records/decode';

const token = 'json-sink-token-7f3a9c1e5b2d4f60';
let pki: ServerPki;
const receivers: Receiver[] = [];

before(async () => {
  pki = await createServerPki();
});
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await pki.remove();
});

async function receiver(options: { fault?: (n: number) => Fault | undefined; badEvent?: (e: unknown) => boolean; plain?: boolean } = {}) {
  const r = await startReceiver({ protocol: 'json', token, ...(options.plain ? {} : { pki }), ...options });
  receivers.push(r);
  return r;
}

function sinkFor(r: Receiver, settings: Partial<Record<string, unknown>> = {}, secrets: Record<string, string> = { JSON_SINK_TOKEN: token }) {
  const parsed = HttpsJsonSinkSettings.parse({ url: `${r.url}/ingest`, tokenSetting: 'JSON_SINK_TOKEN', caFile: pki.caCertPath, ...settings });
  const context = testContext(secrets);
  const clock = fakeClock();
  const sink = createHttpsJsonSink('siem', parsed, context, { clock, random: seededRandom(5) });
  return { sink, context, clock };
}

function assertNoSecret(texts: readonly string[]) {
  for (const text of texts) assert.ok(!text.includes(token), `a token leaked: ${text.slice(0, 200)}`);
}

describe('HTTPS JSON sink', () => {
  test('settings: https anywhere, http only to loopback, no credentials in the URL, defaults', () => {
    const ok = HttpsJsonSinkSettings.parse({ url: 'https://collector.example.com/in' });
    assert.equal(ok.body, 'ndjson');
    assert.equal(ok.gzip, true);
    assert.equal(ok.format, 'event');
    assert.equal(ok.batchRecords, 500);
    assert.ok(HttpsJsonSinkSettings.safeParse({ url: 'http://127.0.0.1:9/in' }).success);
    assert.ok(!HttpsJsonSinkSettings.safeParse({ url: 'http://collector.example.com/in' }).success);
    assert.ok(!HttpsJsonSinkSettings.safeParse({ url: 'https://user:pw@collector.example.com/in' }).success);
    assert.ok(!HttpsJsonSinkSettings.safeParse({ url: 'https://collector.example.com/in', token: 'inline' }).success);
    assert.ok(!HttpsJsonSinkSettings.safeParse({ url: 'https://collector.example.com/in', tokenSetting: 'not a name' }).success);
  });

  test('delivers every record as gzip NDJSON events with its id, batches bounded by count and bytes, over the private CA', async () => {
    const r = await receiver();
    const list = records(230);
    const { sink } = sinkFor(r, { batchRecords: 50, batchBytes: 64 * 1024 });
    const writer = await deliver(sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 230);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
    for (const req of r.requests) {
      assert.equal(req.path, '/ingest');
      assert.equal(req.headers['content-encoding'], 'gzip');
      assert.equal(req.headers['content-type'], 'application/x-ndjson');
      assert.ok(req.events.length <= 50);
    }
    assert.ok(r.requests.length >= 5);
    const first = r.accepted[0] as { id: string; line: string; raw: { Id: string }; recordType: unknown };
    assert.equal(first.raw.Id, first.id);
    assert.match(first.line, /Azure Event Log/);
    (sink as { dispose(): void }).dispose();
  });

  test('the byte limit splits batches before they pass it', async () => {
    const r = await receiver();
    const list = records(60);
    const { sink } = sinkFor(r, { batchBytes: 8 * 1024, gzip: false });
    await deliver(sink, list, { resumeAfter: 0 });
    assert.ok(r.requests.length > 3);
    for (const req of r.requests) if (req.events.length > 1) assert.ok(req.wireBytes <= 8 * 1024, `batch of ${req.wireBytes} bytes`);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
  });

  test('without caFile the private CA is not trusted (the system store only): a configuration error at once, not retried', async () => {
    const r = await receiver();
    const { sink, clock } = sinkFor(r, { caFile: undefined, maxAttempts: 2 });
    const { error } = await deliverExpectingFailure(sink, records(3), { resumeAfter: 0 });
    assert.ok(error instanceof SinkError && !error.retryable && error.code === 'SINK_CONFIGURATION', String(error));
    assert.match(error.message, /certificate/i);
    assert.deepEqual(clock.sleeps, [], 'no retry');
    assert.equal(r.requests.length, 0);
  });

  test('a caFile that cannot be read is a configuration error when the sink is made', () => {
    const parsed = HttpsJsonSinkSettings.parse({ url: 'https://127.0.0.1:9/in', caFile: '/nonexistent/ca.pem' });
    assert.throws(() => createHttpsJsonSink('siem', parsed, testContext({})), (err: unknown) => err instanceof SinkError && !err.retryable);
  });

  test('a JSON array body, no gzip, raw records, plain http to loopback', async () => {
    const r = await receiver({ plain: true });
    const list = readFixture<unknown[]>('content', 'Audit.General.json').map((raw) => decodeRecord(raw));
    const { sink } = sinkFor(r, { body: 'array', gzip: false, format: 'raw', caFile: undefined, batchRecords: 3 });
    await deliver(sink, list, { resumeAfter: 0 }, 2);
    for (const req of r.requests) {
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['content-encoding'], undefined);
    }
    assert.deepEqual(r.accepted, list.map((x) => x.raw));
  });

  test('resumeAfter skips exactly the records accepted before; progress is reported after each batch', async () => {
    const r = await receiver();
    const list = records(40);
    const { sink } = sinkFor(r, { batchRecords: 10 });
    const progress: Array<{ accepted: number; requestsSoFar: number }> = [];
    const onAccepted = async (accepted: number) => void progress.push({ accepted, requestsSoFar: r.requests.length });
    const writer = await deliver(sink, list, { resumeAfter: 13, onAccepted }, 6);
    assert.equal(writer.accepted, 40);
    // Each count arrives before the next batch is sent, so a kill loses at most the batch in flight.
    assert.deepEqual(progress, [{ accepted: 23, requestsSoFar: 1 }, { accepted: 33, requestsSoFar: 2 }, { accepted: 40, requestsSoFar: 3 }]);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list).slice(13));
  });

  test('503 with Retry-After and 429 are retried after at least the asked time; a dropped connection is retried', async () => {
    const faults: Record<number, Fault> = {
      1: { kind: 'status', status: 503, retryAfter: '7' },
      2: { kind: 'drop' },
      4: { kind: 'status', status: 429, retryAfter: '3' },
    };
    const r = await receiver({ fault: (n) => faults[n] });
    const list = records(30);
    const { sink, clock } = sinkFor(r, { batchRecords: 10 });
    const writer = await deliver(sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 30);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
    assert.equal(clock.sleeps.length, 3);
    assert.ok(clock.sleeps[0]! >= 7000);
    assert.ok(clock.sleeps[2]! >= 3000);
  });

  test('a Retry-After longer than maxRetryMs is not waited for in-process: retryable SinkError at once', async () => {
    const r = await receiver({ fault: () => ({ kind: 'status', status: 503, retryAfter: '3600' }) });
    const { sink, clock } = sinkFor(r, { maxRetryMs: 60_000 });
    const { error, writer } = await deliverExpectingFailure(sink, records(5), { resumeAfter: 0 });
    assert.ok(error instanceof SinkError && error.retryable);
    assert.match(error.message, /asked to wait 3600000 ms/);
    assert.deepEqual(clock.sleeps, []);
    assert.equal(r.requests.length, 1);
    assert.equal(writer.accepted, 0);
  });

  test('a slow answer past timeoutMs is retried', async () => {
    const r = await receiver({ fault: (n) => (n === 1 ? { kind: 'slow', delayMs: 3000 } : undefined) });
    const list = records(5);
    const { sink, context } = sinkFor(r, { timeoutMs: 400 });
    await deliver(sink, list, { resumeAfter: 0 });
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
    assert.ok(r.requests.length >= 2);
    assert.match(context.lines.join('\n'), /no complete answer within 400 ms/);
  });

  test('a batch refused with 400: only the bad event goes to the dead letter, the good ones around it go through', async () => {
    const list = records(30);
    const marked = list[14]!.common.Id;
    const r = await receiver({ badEvent: (e) => eventId(e) === marked });
    const { sink } = sinkFor(r, { batchRecords: 10 });
    const dead: Array<{ ids: string[]; reason: string }> = [];
    const writer = await deliver(sink, list, { resumeAfter: 0, rejected: async (rs, reason) => void dead.push({ ids: idsOf(rs), reason }) });
    assert.equal(writer.accepted, 30);
    assert.deepEqual(dead.map((d) => d.ids), [[marked]]);
    assert.match(dead[0]!.reason, /rejected the event: HTTP 400/);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list).filter((id) => id !== marked));
    // Three batches, and the search for the bad one in its batch of 10: ⌈log₂ 10⌉ + 2 more at most.
    assert.ok(r.requests.length <= 3 + 4 + 2, `${r.requests.length} requests`);
    // Without a dead letter the rejection stops the writer at the bad event, not retryable.
    const again = await deliverExpectingFailure(sinkFor(r, { batchRecords: 10 }).sink, list, { resumeAfter: 0 });
    assert.ok(again.error instanceof SinkError && !again.error.retryable);
    assert.equal(again.writer.accepted, 14);
  });

  test('a wrong token is a configuration error that never shows the token', async () => {
    const r = await receiver();
    const wrong = `${token}-old`;
    const { sink, context } = sinkFor(r, {}, { JSON_SINK_TOKEN: wrong });
    const { error, writer } = await deliverExpectingFailure(sink, records(5), { resumeAfter: 0 });
    assert.ok(error instanceof SinkError);
    assert.equal(error.retryable, false);
    assert.match(error.message, /HTTP 401/);
    assert.equal(writer.accepted, 0);
    assert.equal(r.requests.length, 1, 'a configuration error is not retried');
    assert.ok(!error.message.includes(wrong) && !JSON.stringify(context.lines).includes(wrong));
    assertNoSecret([error.message, ...context.lines]);
  });

  test('a receiver failing a third of requests at random: every id arrives once, no accepted batch is re-sent', async () => {
    const random = seededRandom(2024);
    const kinds: Fault[] = [{ kind: 'drop' }, { kind: 'status', status: 503, retryAfter: '1' }, { kind: 'status', status: 500 }, { kind: 'status', status: 429 }];
    const r = await receiver({ fault: () => (random() < 1 / 3 ? kinds[Math.floor(random() * kinds.length)] : undefined) });
    const list = records(800);
    const { sink, context } = sinkFor(r, { batchRecords: 20, maxAttempts: 20, maxRetryMs: 3_600_000 });
    const writer = await deliver(sink, list, { resumeAfter: 0 }, 53);
    assert.equal(writer.accepted, 800);
    const ids = r.accepted.map(eventId);
    assert.deepEqual(duplicates(ids), []);
    assert.deepEqual(new Set(ids), new Set(idsOf(list)));
    assert.ok(r.requests.some((q) => q.outcome === 'dropped') && r.requests.some((q) => q.outcome === 'failed'));
    assertNoSecret(context.lines);
  });

  test('a receiver that stops accepting: close() rejects retryable, accepted tells how far; a resumed run sends the rest once', async () => {
    let healthy = false;
    const r = await receiver({ fault: (n) => (n > 2 && !healthy ? { kind: 'status', status: 503 } : undefined) });
    const list = records(100);
    const first = sinkFor(r, { batchRecords: 20, maxAttempts: 4 });
    const { error, writer } = await deliverExpectingFailure(first.sink, list, { resumeAfter: 0 });
    assert.ok(error instanceof SinkError && error.retryable);
    assert.equal(writer.accepted, 40);
    healthy = true;
    const second = await deliver(sinkFor(r).sink, list, { resumeAfter: writer.accepted });
    assert.equal(second.accepted, 100);
    const ids = r.accepted.map(eventId);
    assert.deepEqual(duplicates(ids), []);
    assert.deepEqual(ids, idsOf(list));
  });

  test('a receiver down for the whole run: retryable SinkError, nothing accepted', async () => {
    const r = await startReceiver({ protocol: 'json', pki });
    const url = r.url;
    await r.close();
    const parsed = HttpsJsonSinkSettings.parse({ url, caFile: pki.caCertPath, maxAttempts: 3 });
    const sink = createHttpsJsonSink('siem', parsed, testContext({}), { clock: fakeClock(), random: seededRandom(1) });
    const { error, writer } = await deliverExpectingFailure(sink, records(10), { resumeAfter: 4 });
    assert.ok(error instanceof SinkError && error.retryable);
    assert.match(error.message, /ECONNREFUSED/);
    assert.equal(writer.accepted, 4);
  });

  test('abort() ends a write that waits for a slow receiver (one batch in flight, the next one waits)', async () => {
    const r = await receiver({ fault: () => ({ kind: 'slow', delayMs: 5000 }) });
    const { sink } = sinkFor(r, { batchRecords: 5 });
    const writer = await sink.open(content, { resumeAfter: 0 });
    const pending = writer.write(records(10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await writer.abort();
    await assert.rejects(pending, (err: unknown) => err instanceof SinkError);
    assert.equal(writer.accepted, 0);
  });
});
