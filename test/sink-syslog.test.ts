// The syslog sink against a real rsyslogd on loopback: plain TCP, TLS with the pinned CA, TLS with a client
// certificate, a wrong CA, connections cut mid-batch by a proxy, rsyslog restarted mid-run, and no receiver at all.
// Every message that arrives is parsed back (independently of the formatter) and compared with the record.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { generateRecords, seededRandom } from '../dev/record-generator';
import type { Clock } from '../shared/api/clock';
import { createLogger } from '../shared/log';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { formatLine } from '../shared/records/line';
import { SinkError, type ContentRef } from '../shared/sinks/sink';
import { createSyslogSink, SyslogSinkSettings, type SyslogSinkContext } from '../shared/sinks/syslog-sink';
import { freePort, makeCertificates, parseSyslog, startCuttingProxy, startRsyslog, type Certificates, type ParsedSyslog, type Rsyslog } from './support/rsyslog';

const tenantId = '41463f53-8812-40f4-890f-865bf6e35190';
let dir: string;
let certs: Certificates;
let rsyslog: Rsyslog;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'o365-syslog-'));
  certs = makeCertificates(dir);
  rsyslog = await startRsyslog(dir, certs);
});

after(async () => {
  await rsyslog?.stop();
  rmSync(dir, { recursive: true, force: true });
});

let contentSeq = 0;
const contentRef = (): ContentRef => ({
  tenantId,
  contentType: 'Audit.General',
  contentId: `20240514000000000$20240514010000000$audit_general$Audit_General$test${contentSeq++}`,
  contentCreated: '2024-05-14T01:00:00.000Z',
});

const secretValues = (): Record<string, string> => ({
  SYSLOG_CA: certs.caPem,
  SYSLOG_OTHER_CA: certs.otherCaPem,
  SYSLOG_CLIENT_CERT: certs.clientCertPem,
  SYSLOG_CLIENT_KEY: certs.clientKeyPem,
});

function context(logLines: string[] = [], clock?: Clock): SyslogSinkContext {
  const values = secretValues();
  return {
    secret: (name) => {
      const value = values[name];
      if (value === undefined) throw new Error(`missing setting ${name}`);
      return value;
    },
    logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
    random: seededRandom(7),
    ...(clock ? { clock } : {}),
  };
}

/** A clock whose sleeps return at once (and can run a hook), so retries take no real time. */
function fastClock(onSleep?: (count: number) => Promise<void>): Clock & { sleeps: number } {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = {
    sleeps: 0,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
      clock.sleeps++;
      await onSleep?.(clock.sleeps);
    },
  };
  return clock;
}

const generated = (n: number, seed: number): DecodedRecord[] => [...generateRecords(n, { seed })].map((r) => decodeRecord(r));

/** Records that stress the format: SD escaping, unicode, a line far over 8 KB. */
const special = (): DecodedRecord[] =>
  [
    { Id: 'odd"id\\with]chars', Operation: 'Weird', Workload: 'Exchange', UserId: 'bob "the" builder' },
    { Id: 'e7a3f1c2-0000-4000-a000-00000000001a', Operation: 'Änderung 漢字 😀', Workload: 'SharePoint', UserId: 'zoë@contoso.com' },
    { Id: 'e7a3f1c2-0000-4000-a000-00000000001b', Operation: '漢字'.repeat(1000), Workload: 'SharePoint', UserId: '😀'.repeat(1000) },
    { Id: 'e7a3f1c2-0000-4000-a000-00000000001c', Operation: '€'.repeat(2040), Workload: 'AzureActiveDirectory', UserId: 'é'.repeat(2040), ResultStatus: 'Failed' },
  ].map((fields) => decodeRecord({ CreationTime: '2024-05-14T10:11:12', RecordType: 1, UserType: 0, ResultStatus: 'Succeeded', ClientIP: '203.0.113.9', ...fields }));

async function deliver(settings: unknown, records: readonly DecodedRecord[], ctx: SyslogSinkContext, content: ContentRef, chunk = 100) {
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse(settings), ctx);
  const writer = await sink.open(content, { resumeAfter: 0 });
  for (let i = 0; i < records.length; i += chunk) await writer.write(records.slice(i, i + chunk));
  await writer.close();
  return writer;
}

interface Arrival {
  complete: Map<string, number>;
  fragments: number;
}

/**
 * What rsyslog received for one content blob: each record's message must be intact (every SD param, the line,
 * or the line cut at the limit with its marker); anything else must be a fragment of a cut connection.
 */
async function arrivals(content: ContentRef, records: readonly DecodedRecord[], options: { allowFragments: boolean; maxMessageBytes?: number } = { allowFragments: false }): Promise<Arrival> {
  const expected = new Map(records.map((r) => [String(r.common.Id), r]));
  const ofContent = (raw: Buffer) => raw.includes(Buffer.from(content.contentId.split('$').pop()!));
  const mine = (messages: Buffer[]) => messages.filter(ofContent);
  const messages = await rsyslog.waitFor((all) => new Set(mine(all).map((m) => parseSyslog(m)?.params.id)).size >= expected.size);
  const result: Arrival = { complete: new Map(), fragments: 0 };
  for (const raw of mine(messages)) {
    const parsed = parseSyslog(raw);
    const record = parsed ? expected.get(parsed.params.id ?? '') : undefined;
    if (!parsed || !record || !intact(parsed, raw, record, content, options.maxMessageBytes ?? 8192)) {
      assert.ok(options.allowFragments, `a message arrived damaged: ${raw.subarray(0, 200).toString()}`);
      result.fragments++;
      continue;
    }
    result.complete.set(parsed.params.id!, (result.complete.get(parsed.params.id!) ?? 0) + 1);
  }
  for (const id of expected.keys()) assert.ok(result.complete.has(id), `record ${id} never arrived intact`);
  return result;
}

function intact(parsed: ParsedSyslog, raw: Buffer, record: DecodedRecord, content: ContentRef, maxBytes: number): boolean {
  const line = formatLine(record);
  const failed = ['failed', 'failure', 'false'].includes(String(record.common.ResultStatus).toLowerCase());
  assert.equal(parsed.pri, failed ? 132 : 134);
  assert.equal(parsed.timestamp, `${String(record.common.CreationTime)}Z`);
  assert.equal(parsed.appName, 'o365-audit-relay');
  assert.equal(parsed.msgId, record.recordTypeName);
  assert.equal(parsed.sdId, 'o365@32473');
  assert.deepEqual(parsed.params, {
    id: String(record.common.Id),
    tenant: content.tenantId,
    contentType: content.contentType,
    contentId: content.contentId,
    recordType: record.recordTypeName,
    workload: String(record.common.Workload),
  });
  assert.ok(parsed.bom);
  assert.ok(raw.length <= maxBytes, `a message of ${raw.length} bytes is over ${maxBytes}`);
  if (parsed.msg === line) return true;
  const cut = /^([\s\S]*)…\[\+(\d+) bytes\]$/.exec(parsed.msg);
  if (!cut) return false; // a fragment
  // Cut only when needed, at a character boundary, as close to the limit as the marker allows.
  assert.ok(line.startsWith(cut[1]!));
  assert.equal(Buffer.byteLength(cut[1]!) + Number(cut[2]), Buffer.byteLength(line));
  assert.ok(raw.length > maxBytes - 32, 'cut no more than needed');
  return true;
}

test('plain TCP: every record arrives once and intact, long unicode lines cut at 8 KB; accepted counts them all', async () => {
  const content = contentRef();
  const records = [...generated(300, 1), ...special()];
  const writer = await deliver({ host: '127.0.0.1', port: rsyslog.tcpPort, batchRecords: 64, hostname: 'relay-test' }, records, context(), content, 37);
  assert.equal(writer.accepted, records.length);
  assert.equal(writer.resentBatches, 0);
  assert.equal(writer.cutMessages, 2);
  const { complete, fragments } = await arrivals(content, records);
  assert.equal(fragments, 0);
  assert.ok([...complete.values()].every((n) => n === 1), 'no duplicates without drops');
  const sample = parseSyslog(rsyslog.received().find((m) => m.includes(Buffer.from(String(records[0]!.common.Id))))!);
  assert.equal(sample?.hostname, 'relay-test');
});

test('resumeAfter skips exactly the records an earlier attempt delivered; progress is reported per batch', async () => {
  const content = contentRef();
  const records = generated(120, 2);
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port: rsyslog.tcpPort, batchRecords: 25 }), context());
  const progress: number[] = [];
  const writer = await sink.open(content, { resumeAfter: 70, onAccepted: async (n) => void progress.push(n) });
  await writer.write(records.slice(0, 50));
  await writer.write(records.slice(50));
  await writer.close();
  // Counted from the start of the blob, like resumeAfter: the worker stores it as the sink's progress.
  assert.equal(writer.accepted, 120);
  assert.deepEqual(progress, [95, 120]);
  const { complete } = await arrivals(content, records.slice(70));
  assert.equal(complete.size, 50);
  const ids = new Set(records.slice(0, 70).map((r) => String(r.common.Id)));
  assert.ok(!rsyslog.received().some((m) => ids.has(parseSyslog(m)?.params.id ?? '')), 'no skipped record was sent');
});

test('TLS trusting exactly the configured CA delivers; a wrong CA is refused as configuration (not retryable)', async () => {
  const content = contentRef();
  const records = [...generated(150, 3), ...special()];
  const writer = await deliver({ host: '127.0.0.1', port: rsyslog.tlsPort, tls: { caSetting: 'SYSLOG_CA' }, batchRecords: 50 }, records, context(), content);
  assert.equal(writer.accepted, records.length);
  const { complete, fragments } = await arrivals(content, records);
  assert.equal(fragments, 0);
  assert.ok([...complete.values()].every((n) => n === 1));

  const refused = contentRef();
  const clock = fastClock();
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port: rsyslog.tlsPort, tls: { caSetting: 'SYSLOG_OTHER_CA' } }), context([], clock));
  const w = await sink.open(refused, { resumeAfter: 0 });
  await w.write(generated(5, 4));
  await assert.rejects(w.close(), (err: unknown) => err instanceof SinkError && !err.retryable && /UNABLE_TO_VERIFY|CERT/.test(err.message));
  assert.equal(w.accepted, 0);
  assert.equal(clock.sleeps, 0, 'no retry for a configuration error');
  // The host name is checked too: the certificate is for 127.0.0.1 only.
  const named = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port: rsyslog.tlsPort, tls: { caSetting: 'SYSLOG_CA', serverName: 'siem.example.org' } }), context([], clock));
  const w2 = await named.open(refused, { resumeAfter: 0 });
  await w2.write(generated(5, 4));
  await assert.rejects(w2.close(), (err: unknown) => err instanceof SinkError && !err.retryable && /ALTNAME/.test(err.message));
  assert.ok(!rsyslog.received().some((m) => m.includes(Buffer.from(refused.contentId.split('$').pop()!))));
});

test('a missing secret setting or unreadable PEM is a configuration error naming the setting only', () => {
  const settings = (tls: unknown) => SyslogSinkSettings.parse({ host: '127.0.0.1', port: 1, tls });
  assert.throws(() => createSyslogSink('siem', settings({ caSetting: 'NOPE' }), context()), (e: unknown) => e instanceof SinkError && !e.retryable && /NOPE/.test(e.message));
  const broken: SyslogSinkContext = { ...context(), secret: (n) => (n === 'SYSLOG_CLIENT_KEY' ? 'not a key but a secret value' : certs.caPem) };
  assert.throws(
    () => createSyslogSink('siem', settings({ caSetting: 'SYSLOG_CA', certSetting: 'SYSLOG_CLIENT_CERT', keySetting: 'SYSLOG_CLIENT_KEY' }), broken),
    (e: unknown) => e instanceof SinkError && !e.retryable && !e.message.includes('secret value') && /SYSLOG_CLIENT_KEY/.test(e.message),
  );
  assert.equal(SyslogSinkSettings.safeParse({ host: 'h', tls: { caSetting: 'A', certSetting: 'B' } }).success, false);
});

test('connections cut mid-batch (a third, at random bytes, client certificate on): every record arrives, duplicates at most one batch per cut, no key in logs', async () => {
  const content = contentRef();
  const records = generated(1000, 5);
  const random = seededRandom(11);
  const batchRecords = 40;
  const proxy = await startCuttingProxy(rsyslog.mtlsPort, () => random() < 1 / 3, () => Math.floor(random() * 40_000));
  const logs: string[] = [];
  try {
    const writer = await deliver(
      {
        host: '127.0.0.1',
        port: proxy.port,
        tls: { caSetting: 'SYSLOG_CA', certSetting: 'SYSLOG_CLIENT_CERT', keySetting: 'SYSLOG_CLIENT_KEY' },
        batchRecords,
        maxAttempts: 12,
      },
      records,
      context(logs, fastClock()),
      content,
    );
    assert.equal(writer.accepted, records.length);
    assert.ok(proxy.cuts >= 3, `the proxy cut ${proxy.cuts} connections`);
    assert.equal(writer.resentBatches, proxy.cuts, 'each cut costs one re-sent batch');
    const { complete } = await arrivals(content, records, { allowFragments: true });
    const duplicates = [...complete.values()].reduce((sum, n) => sum + n - 1, 0);
    assert.ok(duplicates <= proxy.cuts * batchRecords, `${duplicates} duplicates for ${proxy.cuts} cuts`);
    assert.ok(logs.length > 0);
    const keyBody = certs.clientKeyPem.split('\n')[1]!;
    assert.ok(!logs.some((l) => l.includes(keyBody)), 'the client key never reaches the logs');
  } finally {
    await proxy.close();
  }
});

test('rsyslog restarted mid-run: the writer reconnects with backoff and every record arrives', async () => {
  const content = contentRef();
  const records = generated(400, 6);
  let startFailure: unknown;
  let stopping: Promise<void> | undefined;
  const clock = fastClock(async (n) => {
    // Down for one backoff, back for the next attempt (once the old process has exited).
    if (n === 2) await stopping?.then(() => rsyslog.start()).catch((err: unknown) => (startFailure = err));
  });
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port: rsyslog.tcpPort, batchRecords: 50 }), context([], clock));
  const writer = await sink.open(content, { resumeAfter: 0 });
  await writer.write(records.slice(0, 150));
  await rsyslog.waitFor((all) => all.filter((m) => m.includes(Buffer.from(content.contentId.split('$').pop()!))).length >= 100);
  stopping = rsyslog.stop();
  await stopping;
  await writer.write(records.slice(150));
  await writer.close().catch((err: unknown) => {
    throw startFailure ?? err;
  });
  assert.equal(writer.accepted, records.length);
  assert.ok(clock.sleeps >= 2 && writer.resentBatches >= 1);
  const { complete } = await arrivals(content, records, { allowFragments: true });
  const duplicates = [...complete.values()].reduce((sum, n) => sum + n - 1, 0);
  assert.ok(duplicates <= writer.resentBatches * 50);
});

test('no receiver for the whole run: close() rejects with a retryable SinkError after bounded attempts, accepted 0', async () => {
  const port = await freePort();
  const clock = fastClock();
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port, batchRecords: 10, maxAttempts: 4 }), context([], clock));
  const writer = await sink.open(contentRef(), { resumeAfter: 0 });
  await writer.write(generated(5, 8));
  await assert.rejects(writer.close(), (err: unknown) => err instanceof SinkError && err.retryable && /ECONNREFUSED/.test(err.message));
  assert.equal(writer.accepted, 0);
  assert.equal(clock.sleeps, 3);
});

test('a record whose header cannot fit goes to rejected, in order, and counts as handled', async () => {
  const content = contentRef();
  const records = generated(30, 9);
    // Ids and workload at their 256-character cap, 3 bytes per character: the header alone passes 2048 bytes.
  const huge = decodeRecord({ Id: '漢'.repeat(256), CreationTime: '2024-05-14T10:11:12', RecordType: 1, Workload: '字'.repeat(256) });
  const all = [...records.slice(0, 10), huge, ...records.slice(10)];
  const rejected: Array<{ ids: unknown[]; reason: string; acceptedBefore: number }> = [];
  const sink = createSyslogSink('siem', SyslogSinkSettings.parse({ host: '127.0.0.1', port: rsyslog.tcpPort, batchRecords: 4, maxMessageBytes: 2048, hostname: 'h'.repeat(255), appName: 'a'.repeat(48) }), context());
  const writer = await sink.open({ ...content, contentId: content.contentId + 'y'.repeat(200) }, {
    resumeAfter: 0,
    rejected: async (recs, reason) => {
      rejected.push({ ids: recs.map((r) => r.common.Id), reason, acceptedBefore: writer.accepted });
    },
  });
  await writer.write(all);
  await writer.close();
  assert.equal(writer.accepted, all.length);
  assert.equal(rejected.length, 1);
  assert.deepEqual(rejected[0]!.ids, [huge.common.Id]);
  assert.equal(rejected[0]!.acceptedBefore, 10, 'the records before it were delivered first');
  assert.match(rejected[0]!.reason, /maxMessageBytes/);
});
