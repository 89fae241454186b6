import assert from 'node:assert/strict';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { seededRandom } from '../dev/record-generator';
import { decodeRecord } from '../shared/records/decode';
import { recordFixtureFiles } from './support/fixtures';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';
import { SinkError } from '../shared/sinks/sink';
import { SplunkHecSinkSettings, classifyHecAnswer, createSplunkHecSink, hecCodeVerdicts } from '../shared/sinks/splunk-hec-sink';
import { content, deliver, deliverExpectingFailure, fakeClock, idsOf, records, testContext } from './support/sink-harness';
import { duplicates, eventId, splitConcatenatedJson, startReceiver, type Fault, type Receiver } from './support/siem-receiver';

const token = '9d1f4c2a-6b3e-4e7a-8c5d-2f0a1b3c4d5e';
let pki: ServerPki;
const receivers: Receiver[] = [];

before(async () => {
  pki = await createServerPki();
});
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await pki.remove();
});

async function receiver(options: { fault?: (n: number) => Fault | undefined; badEvent?: (e: unknown) => boolean; indexes?: string[]; ack?: { pollsBeforeAck?: number; never?: (id: number) => boolean } } = {}) {
  const r = await startReceiver({ protocol: 'hec', token, pki, ...options });
  receivers.push(r);
  return r;
}

function sinkFor(r: Receiver, settings: Record<string, unknown> = {}, secrets: Record<string, string> = { SPLUNK_HEC_TOKEN: token }) {
  const parsed = SplunkHecSinkSettings.parse({ url: r.url, tokenSetting: 'SPLUNK_HEC_TOKEN', caFile: pki.caCertPath, ...settings });
  const context = testContext(secrets);
  const clock = fakeClock();
  const sink = createSplunkHecSink('splunk', parsed, context, { clock, random: seededRandom(3) });
  return { sink, context, clock };
}

const busy: Fault = { kind: 'status', status: 503, body: { text: 'Server is busy', code: 9 } };

describe('Splunk HEC sink', () => {
  test('settings: token setting required, defaults, https or loopback http', () => {
    const s = SplunkHecSinkSettings.parse({ url: 'https://splunk.example.com:8088', tokenSetting: 'SPLUNK_HEC_TOKEN' });
    assert.equal(s.sourcetype, 'o365:management:activity');
    assert.equal(s.index, undefined);
    assert.equal(s.gzip, true);
    assert.ok(!SplunkHecSinkSettings.safeParse({ url: 'https://splunk.example.com:8088' }).success);
    assert.ok(!SplunkHecSinkSettings.safeParse({ url: 'http://splunk.example.com:8088', tokenSetting: 'T' }).success);
    const inline = SplunkHecSinkSettings.safeParse({ url: 'https://splunk.example.com:8088', tokenSetting: 'T', token });
    assert.ok(!inline.success);
    assert.ok(!JSON.stringify(inline.error.issues).includes(token), 'the refusal does not echo the token');
  });

  test('events go to /services/collector/event with Splunk auth, CreationTime as epoch seconds, metadata and the record id', async () => {
    const r = await receiver({ indexes: ['o365'] });
    const list = records(120);
    const { sink } = sinkFor(r, { index: 'o365', batchRecords: 50 });
    const writer = await deliver(sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 120);
    assert.equal(r.requests.length, 3);
    for (const req of r.requests) {
      assert.equal(req.path, '/services/collector/event');
      assert.equal(req.headers['content-encoding'], 'gzip');
    }
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
    const first = r.accepted[0] as { time: number; host: string; source: string; sourcetype: string; index: string; event: { id: string } };
    assert.equal(first.time, Date.parse(`${String(list[0]!.common.CreationTime)}Z`) / 1000);
    assert.equal(first.host, os.hostname());
    assert.equal(first.source, `o365-audit-relay:${content.contentType}`);
    assert.equal(first.sourcetype, 'o365:management:activity');
    assert.equal(first.index, 'o365');
  });

  test('every record fixture goes through with its Id and CreationTime', async () => {
    const r = await receiver();
    const list = recordFixtureFiles().flatMap((file) => {
      const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      return (Array.isArray(value) ? value : [value]).map((raw) => decodeRecord(raw));
    });
    assert.ok(list.length > 20);
    const writer = await deliver(sinkFor(r, { batchRecords: 17 }).sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, list.length);
    const events = r.accepted as Array<{ time?: number; event: { id: string | null } }>;
    assert.deepEqual(events.map((e) => e.event.id), list.map((x) => x.common.Id ?? null));
    for (const [i, e] of events.entries()) {
      const created = list[i]!.common.CreationTime;
      if (typeof created === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/.test(created)) assert.equal(e.time, Date.parse(`${created}Z`) / 1000);
    }
  });

  test('source, sourcetype, host and raw format are settable; no index means none is sent', async () => {
    const r = await receiver();
    const list = records(4);
    const { sink } = sinkFor(r, { source: 'm365', sourcetype: 'custom:o365', host: 'relay-1', format: 'raw', gzip: false });
    await deliver(sink, list, { resumeAfter: 0 });
    const first = r.accepted[0] as Record<string, unknown>;
    assert.deepEqual([first.source, first.sourcetype, first.host, 'index' in first], ['m365', 'custom:o365', 'relay-1', false]);
    assert.deepEqual(r.accepted.map((e) => (e as { event: unknown }).event), list.map((x) => x.raw));
  });

  test('resumeAfter skips exactly the records accepted before', async () => {
    const r = await receiver();
    const list = records(25);
    const writer = await deliver(sinkFor(r, { batchRecords: 4 }).sink, list, { resumeAfter: 9 }, 5);
    assert.equal(writer.accepted, 25);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list).slice(9));
  });

  test('code 9 (server busy) with Retry-After and code 8 are retried; a dropped connection too', async () => {
    const faults: Record<number, Fault> = {
      1: { ...busy, retryAfter: '5' } as Fault,
      2: { kind: 'status', status: 500, body: { text: 'Internal server error', code: 8 } },
      3: { kind: 'drop' },
      5: { kind: 'status', status: 503, body: { text: 'HEC is unhealthy, queues are full', code: 18 } },
    };
    const r = await receiver({ fault: (n) => faults[n] });
    const list = records(20);
    const { sink, clock } = sinkFor(r, { batchRecords: 10 });
    const writer = await deliver(sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 20);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
    assert.equal(clock.sleeps.length, 4);
    assert.ok(clock.sleeps[0]! >= 5000);
  });

  test('an invalid token (code 4) is a configuration error that never shows the token', async () => {
    const r = await receiver();
    const wrong = '0b7e2d4c-1a3f-4c5e-9d8b-7a6f5e4d3c2b';
    const { sink, context } = sinkFor(r, {}, { SPLUNK_HEC_TOKEN: wrong });
    const { error, writer } = await deliverExpectingFailure(sink, records(5), { resumeAfter: 0 });
    assert.ok(error instanceof SinkError);
    assert.equal(error.retryable, false);
    assert.match(error.message, /HEC code 4: Invalid token/);
    assert.equal(writer.accepted, 0);
    assert.equal(r.requests.length, 1);
    for (const text of [error.message, error.stack ?? '', ...context.lines]) assert.ok(!text.includes(wrong) && !text.includes(token));
  });

  test('an incorrect index (code 7) misconfigures the whole sink: not retryable, nothing dead-lettered', async () => {
    const r = await receiver({ indexes: ['main'] });
    const dead: unknown[] = [];
    const { error } = await deliverExpectingFailure(sinkFor(r, { index: 'nope' }).sink, records(5), { resumeAfter: 0, rejected: async (rs) => void dead.push(rs) });
    assert.ok(error instanceof SinkError && !error.retryable);
    assert.match(error.message, /HEC code 7: Incorrect index/);
    assert.deepEqual(dead, []);
  });

  test('invalid data (code 6): the event HEC names goes to the dead letter, the rest of its batch is sent again', async () => {
    const list = records(30);
    const marked = list[21]!.common.Id;
    const r = await receiver({ badEvent: (e) => eventId(e) === marked });
    const dead: Array<{ ids: string[]; reason: string }> = [];
    const writer = await deliver(sinkFor(r, { batchRecords: 10 }).sink, list, { resumeAfter: 0, rejected: async (rs, reason) => void dead.push({ ids: idsOf(rs), reason }) });
    assert.equal(writer.accepted, 30);
    assert.deepEqual(dead.map((d) => d.ids), [[marked]]);
    assert.match(dead[0]!.reason, /HEC code 6: Invalid data format \(invalid event number 1\)/);
    // Event 20 was kept by the refused request itself; 22..29 came with the one re-send.
    assert.deepEqual(r.accepted.map(eventId), idsOf(list).filter((id) => id !== marked));
    assert.equal(r.requests.length, 4);
  });

  test('a slow answer past timeoutMs is retried', async () => {
    const r = await receiver({ fault: (n) => (n === 1 ? { kind: 'slow', delayMs: 3000 } : undefined) });
    const list = records(3);
    await deliver(sinkFor(r, { timeoutMs: 400 }).sink, list, { resumeAfter: 0 });
    assert.ok(r.requests.length >= 2);
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
  });

  test('a receiver failing a third of requests at random: every id arrives once, no accepted batch is re-sent', async () => {
    const random = seededRandom(77);
    const kinds: Fault[] = [{ kind: 'drop' }, { ...busy, retryAfter: '1' } as Fault, { kind: 'status', status: 500, body: { text: 'Internal server error', code: 8 } }];
    const r = await receiver({ fault: () => (random() < 1 / 3 ? kinds[Math.floor(random() * kinds.length)] : undefined) });
    const list = records(700);
    const { sink, context } = sinkFor(r, { batchRecords: 25, maxAttempts: 20, maxRetryMs: 3_600_000 });
    const writer = await deliver(sink, list, { resumeAfter: 0 }, 41);
    assert.equal(writer.accepted, 700);
    const ids = r.accepted.map(eventId);
    assert.deepEqual(duplicates(ids), []);
    assert.deepEqual(new Set(ids), new Set(idsOf(list)));
    assert.ok(r.requests.filter((q) => q.outcome !== 'accepted').length > 5);
    assert.ok(!JSON.stringify(context.lines).includes(token));
  });

  test('busy for good: close() rejects retryable with accepted so far; the resumed run completes without duplicates', async () => {
    let busyForGood = true;
    const r = await receiver({ fault: (n) => (n > 3 && busyForGood ? busy : undefined) });
    const list = records(50);
    const { error, writer } = await deliverExpectingFailure(sinkFor(r, { batchRecords: 10, maxAttempts: 3 }).sink, list, { resumeAfter: 0 });
    assert.ok(error instanceof SinkError && error.retryable);
    assert.match(error.message, /Server is busy/);
    assert.equal(writer.accepted, 30);
    busyForGood = false;
    await deliver(sinkFor(r).sink, list, { resumeAfter: writer.accepted });
    assert.deepEqual(r.accepted.map(eventId), idsOf(list));
  });

  test('useAck: a batch counts once HEC reports it indexed, on one channel, through dropped polls and busy answers', async () => {
    const random = seededRandom(31);
    const r = await receiver({ ack: { pollsBeforeAck: 2 }, fault: () => (random() < 0.2 ? (random() < 0.5 ? { kind: 'drop' } : busy) : undefined) });
    const list = records(90);
    const { sink, clock } = sinkFor(r, { useAck: true, ackPollMs: 250, batchRecords: 20 });
    const writer = await deliver(sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 90);
    const ids = r.acknowledged.map(eventId);
    assert.deepEqual(duplicates(ids), []);
    assert.deepEqual(ids, idsOf(list));
    const channels = new Set(r.requests.map((q) => q.headers['x-splunk-request-channel']));
    assert.equal(channels.size, 1);
    assert.match(String([...channels][0]), /^[0-9a-f-]{36}$/);
    const polls = r.requests.filter((q) => q.path === '/services/collector/ack');
    assert.ok(polls.length >= 5 * 3, 'each of the 5 batches needs at least 3 polls');
    assert.ok(clock.sleeps.filter((ms) => ms === 250).length >= 15);
  });

  test('useAck: a batch never acknowledged within ackTimeoutMs is sent again (at-least-once), and counted once', async () => {
    const r = await receiver({ ack: { never: (id) => id === 1 } });
    const list = records(30);
    const writer = await deliver(sinkFor(r, { useAck: true, ackPollMs: 100, ackTimeoutMs: 1000, batchRecords: 10 }).sink, list, { resumeAfter: 0 });
    assert.equal(writer.accepted, 30);
    assert.deepEqual(r.acknowledged.map(eventId), idsOf(list));
    // The receiver got the lost batch twice: what acknowledgement exists to catch.
    assert.deepEqual(duplicates(r.accepted.map(eventId)), idsOf(list).slice(10, 20));
  });

  test('a token with acknowledgement but useAck off (code 10), or useAck on a token without it: configuration errors', async () => {
    const withAck = await receiver({ ack: {} });
    const missing = await deliverExpectingFailure(sinkFor(withAck).sink, records(3), { resumeAfter: 0 });
    assert.ok(missing.error instanceof SinkError && !missing.error.retryable);
    assert.match(missing.error.message, /HEC code 10: Data channel is missing/);
    const withoutAck = await receiver();
    const noAckId = await deliverExpectingFailure(sinkFor(withoutAck, { useAck: true }).sink, records(3), { resumeAfter: 0 });
    assert.ok(noAckId.error instanceof SinkError && !noAckId.error.retryable);
    assert.match(noAckId.error.message, /without an ackId/);
  });

  test('every documented HEC code maps as the Splunk table says', () => {
    const answer = (status: number, body: unknown) => classifyHecAnswer({ status, headers: {}, body: Buffer.from(JSON.stringify(body)) }, 0).kind;
    const expected: Array<[number, number, string]> = [
      [200, 0, 'accepted'], [403, 1, 'configuration'], [401, 2, 'configuration'], [401, 3, 'configuration'], [403, 4, 'configuration'],
      [400, 5, 'rejected'], [400, 6, 'rejected'], [400, 7, 'configuration'], [500, 8, 'retry'], [503, 9, 'retry'],
      [400, 10, 'configuration'], [400, 12, 'rejected'], [400, 13, 'rejected'], [200, 17, 'retry'], [503, 18, 'retry'],
    ];
    for (const [status, code, kind] of expected) assert.equal(answer(status, { text: 'x', code }), kind, `code ${code}`);
    assert.equal(hecCodeVerdicts[9], 'retry');
    // Unknown codes and non-JSON answers fall back to the HTTP status; a success code on an error status is not trusted.
    assert.equal(answer(413, { text: 'Content too large', code: 99 }), 'rejected');
    assert.equal(classifyHecAnswer({ status: 502, headers: { 'retry-after': '4' }, body: Buffer.from('<html>bad gateway</html>') }, 0).kind, 'retry');
    assert.equal(answer(500, { text: 'Success', code: 0 }), 'retry');
  });

  test('the receiver splits concatenated event objects as HEC does', () => {
    assert.deepEqual(splitConcatenatedJson('{"event":"a"}{"event":{"b":"}{"}}\n {"event":3}'), [{ event: 'a' }, { event: { b: '}{' } }, { event: 3 }]);
    assert.throws(() => splitConcatenatedJson('{"event":1} x'));
  });
});
