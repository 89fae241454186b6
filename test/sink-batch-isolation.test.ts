// One bad event costs only itself, through real receivers: a Splunk HEC written from Splunk's documentation
// (splunk-hec-contract.ts), the project's JSON collector (siem-receiver.ts) and the Logs Ingestion API stand-in
// (logs-ingestion-receiver.ts). Good events plus one or two bad ones at random positions: every good event is
// taken exactly once and in order, only the bad ones reach `rejected`, within the request bound; then the same
// through the content worker with the ledger and the dead letter on Azurite. And a receiver that echoes the
// token anywhere around the excerpt's cut: no piece of it reaches a reason or a log line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import type { ContentMessage } from '../shared/pipeline/content-message';
import { processContent } from '../shared/pipeline/process-content';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { ceilLog2 } from '../shared/sinks/batch-isolation';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createHttpsJsonSink, HttpsJsonSinkSettings } from '../shared/sinks/https-json-sink';
import { createSentinelSink, SentinelSinkSettings } from '../shared/sinks/sentinel-sink';
import { defaultStreamName } from '../shared/sinks/sentinel-table';
import type { Sink } from '../shared/sinks/sink';
import { createSplunkHecSink, SplunkHecSinkSettings } from '../shared/sinks/splunk-hec-sink';
import { createTableLedger } from '../shared/state/table-ledger';
import { trustCaPolicy } from '../dev/simulator/trust';
import { content, deliver, idsOf, records, testContext } from './support/sink-harness';
import { startLogsIngestionReceiver } from './support/logs-ingestion-receiver';
import { eventId, startReceiver } from './support/siem-receiver';
import { startHecContractReceiver } from './support/splunk-hec-contract';
import { workerDeps } from './support/worker-deps';

const token = 'c0ffee42-Tk7q-4b1e-9d2a-8e5f1a2b3c4d';
const ruleId = 'dcr-00112233445566778899aabbccddeeff';
const batchRecords = 16;
const count = 40;

/** A destination under test: where its events end up, and how many requests it saw. */
interface Target {
  sink: Sink & { dispose?: () => void };
  /** Ids the destination kept, in order. */
  kept(): string[];
  requests(): number;
  /** Extra requests one bad event may cost. */
  perBad: number;
  close(): Promise<void>;
}

/** Marks events by id; the receivers consult it, so one receiver serves every round. */
const marked = new Set<string>();

const staticCredential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

const targets: Record<string, () => Promise<Target>> = {
  'Splunk HEC (contract receiver)': async () => {
    const r = await startHecContractReceiver({ token, refuse: (e) => marked.has(eventId(e) ?? '') });
    const settings = SplunkHecSinkSettings.parse({ url: r.url, tokenSetting: 'HEC_TOKEN', batchRecords });
    const sink = createSplunkHecSink('hec', settings, testContext({ HEC_TOKEN: token }));
    // HEC names the bad event: one re-send of the rest per bad event.
    return { sink, kept: () => r.indexed.map((e) => eventId(e)!), requests: () => r.requests.length, perBad: 1, close: r.close };
  },
  'HTTPS JSON': async () => {
    const r = await startReceiver({ protocol: 'json', token, badEvent: (e) => marked.has(eventId(e) ?? '') });
    const settings = HttpsJsonSinkSettings.parse({ url: r.url, tokenSetting: 'JSON_TOKEN', batchRecords });
    const sink = createHttpsJsonSink('json', settings, testContext({ JSON_TOKEN: token }));
    return { sink, kept: () => r.accepted.map((e) => eventId(e)!), requests: () => r.requests.length, perBad: ceilLog2(batchRecords) + 2, close: r.close };
  },
  'Sentinel (Logs Ingestion)': async () => {
    const r = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName, validateRow: (row) => (marked.has(String(row.RecordId)) ? 'the row does not match the stream' : undefined) });
    const settings = SentinelSinkSettings.parse({ endpoint: r.endpoint, ruleId, maxBatchBytes: 16 * 1024 });
    const sink = createSentinelSink('sentinel', settings, testContext({}), { credential: staticCredential, additionalPolicies: [{ policy: trustCaPolicy(r.caCertPem), position: 'perCall' }] });
    // Batches are cut by bytes: a batch holds at most all `count` rows.
    return { sink, kept: () => r.rows.map((row) => String(row.RecordId)), requests: () => r.requests.length, perBad: ceilLog2(count) + 2, close: r.close };
  },
};

/** `bad` distinct positions in [0, n) from the seed. */
function positions(seed: number, n: number, bad: number): number[] {
  const random = seededRandom(seed);
  const chosen = new Set<number>();
  while (chosen.size < bad) chosen.add(Math.floor(random() * n));
  return [...chosen].sort((a, b) => a - b);
}

describe('a sink batch with bad events: only they are rejected', () => {
  for (const [label, start] of Object.entries(targets)) {
    test(label, async () => {
      const target = await start();
      try {
        const list = records(count, 21);
        // The clean run gives the requests a batch costs without bad events.
        await deliver(target.sink, list, { resumeAfter: 0 });
        const clean = target.requests();
        assert.deepEqual(target.kept(), idsOf(list));
        for (const [seed, bad] of [[1, 1], [2, 1], [3, 1], [4, 2], [5, 2], [6, 2]] as const) {
          const at = positions(seed * 7919, count, bad);
          const badIds = at.map((i) => String(list[i]!.common.Id));
          marked.clear();
          for (const id of badIds) marked.add(id);
          const keptBefore = target.kept().length;
          const requestsBefore = target.requests();
          const dead: Array<{ ids: string[]; reason: string }> = [];
          const progress: number[] = [];
          const writer = await deliver(target.sink, list, {
            resumeAfter: 0,
            onAccepted: async (n) => void progress.push(n),
            rejected: async (rs, reason) => void dead.push({ ids: idsOf(rs), reason }),
          }, 13);
          const why = `seed ${seed}, bad at ${at.join(',')}`;
          assert.equal(writer.accepted, count, why);
          assert.deepEqual(dead.map((d) => d.ids), badIds.map((id) => [id]), `only the bad events, one by one (${why})`);
          for (const d of dead) assert.ok(d.reason.length > 0 && d.reason.length < 600, d.reason);
          const kept = target.kept().slice(keptBefore);
          assert.deepEqual(kept, idsOf(list).filter((id) => !marked.has(id)), `every good event once, in order (${why})`);
          assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]!), 'progress only moves forward');
          const spent = target.requests() - requestsBefore;
          assert.ok(spent <= clean + bad * target.perBad, `${spent} requests, ${clean} for a clean run, ${bad} bad (${why})`);
        }
      } finally {
        target.sink.dispose?.();
        marked.clear();
        await target.close();
      }
    });
  }

  test('the HEC contract receiver follows Splunk: per-event checks in order, the events before the bad one indexed', async () => {
    const r = await startHecContractReceiver({ token });
    try {
      const post = async (body: string) => {
        const res = await fetch(`${r.url}/services/collector/event`, { method: 'POST', headers: { Authorization: `Splunk ${token}` }, body });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      assert.deepEqual(await post('{"event":"a"}{"event":"b"}{"time":1}{"event":"d"}'), { status: 400, body: { text: 'Event field is required', code: 12, 'invalid-event-number': 2 } });
      assert.deepEqual(await post('{"event":"e"} {"event":"f","time":"yesterday"}'), { status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': 1 } });
      assert.deepEqual(await post('{"event":""}'), { status: 400, body: { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': 0 } });
      assert.deepEqual(await post('{"event":"g","time":1715650000.5}'), { status: 200, body: { text: 'Success', code: 0 } });
      assert.deepEqual(r.indexed.map((e) => e.event), ['a', 'b', 'e', 'g']);
    } finally {
      await r.close();
    }
  });
});

describe('the content worker: the dead letter holds only the bad events', () => {
  let azurite: RunningAzurite;
  before(async () => {
    azurite = await startAzurite();
  });
  after(() => azurite.close());

  test('HEC and HTTPS JSON sinks, one and two bad records in a blob', async () => {
    const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient('o365-dead-letter');
    await container.createIfNotExists();
    const deadLetter = createBlobDeadLetter(container);
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'sinkisolation' });
    const raw = [...generateRecords(90, { seed: 33 })];
    const bad = new Set([String(raw[17]!.Id), String(raw[61]!.Id), String(raw[62]!.Id)]);
    const hec = await startHecContractReceiver({ token, refuse: (e) => bad.has(eventId(e) ?? '') });
    const json = await startReceiver({ protocol: 'json', token, badEvent: (e) => bad.has(eventId(e) ?? '') });
    const sinks = [
      createSplunkHecSink('hec', SplunkHecSinkSettings.parse({ url: hec.url, tokenSetting: 'HEC_TOKEN', batchRecords: 25 }), testContext({ HEC_TOKEN: token })),
      createHttpsJsonSink('json', HttpsJsonSinkSettings.parse({ url: json.url, tokenSetting: 'JSON_TOKEN', batchRecords: 25 }), testContext({ JSON_TOKEN: token })),
    ];
    try {
      const message: ContentMessage = {
        tenantId: tenant,
        contentType: 'Audit.General',
        contentId: 'sink$isolation$0001',
        contentCreated: new Date().toISOString(),
        contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(),
        waits: 0,
      };
      const outcome = await processContent(message, workerDeps({ ledger, records: raw, sinksFor: () => sinks, deadLetter, logger: createLogger({ level: 'error' }) }));
      assert.equal(outcome.kind, 'delivered');
      const entry = await ledger.get({ tenantId: tenant, contentId: message.contentId });
      assert.equal(entry?.state, 'delivered');
      assert.deepEqual(entry?.sinks.hec, { accepted: 90, done: true, deadLettered: 3 });
      assert.deepEqual(entry?.sinks.json, { accepted: 90, done: true, deadLettered: 3 });
      const good = raw.map((r) => String(r.Id)).filter((id) => !bad.has(id));
      assert.deepEqual(hec.indexed.map((e) => eventId(e)), good);
      assert.deepEqual(json.accepted.map((e) => eventId(e)), good);
      for (const sink of ['hec', 'json']) {
        const held: string[] = [];
        for await (const e of deadLetter.list({ sink })) {
          assert.equal(e.content.contentId, message.contentId);
          assert.ok(e.reason.includes('rejected the event'), e.reason);
          held.push(...(await deadLetter.read(e)).map((r) => String((r as { Id: unknown }).Id)));
        }
        assert.deepEqual(held.sort(), [...bad].sort(), `${sink}: the dead letter holds exactly the bad records`);
      }
    } finally {
      for (const s of sinks) s.dispose();
      await hec.close();
      await json.close();
    }
  });
});

describe('a receiver that echoes the token: redact, then cut', () => {
  /** Every piece of the token of 8 characters or more that shows up in the text. */
  const leaks = (text: string, secret: string) => {
    const found: string[] = [];
    for (let i = 0; i + 8 <= secret.length; i++) if (text.includes(secret.slice(i, i + 8))) found.push(secret.slice(i, i + 8));
    return found;
  };
  const one: DecodedRecord[] = [decodeRecord([...generateRecords(1, { seed: 5 })][0]!)];

  for (const protocol of ['json', 'hec'] as const) {
    test(`${protocol}: the token at every position around the 200-character cut`, async () => {
      let position = 0;
      // The answer quotes the token after `position` characters (HEC: inside its `text`).
      const r = await startReceiver({
        protocol,
        token,
        fault: () => {
          const text = `${'x'.repeat(position)}${token} and more text after it`;
          return { kind: 'status', status: 400, body: protocol === 'hec' ? { text, code: 6 } : { error: text } };
        },
      });
      const context = testContext(protocol === 'hec' ? { HEC_TOKEN: token } : { JSON_TOKEN: token });
      const sink =
        protocol === 'hec'
          ? createSplunkHecSink('hec', SplunkHecSinkSettings.parse({ url: r.url, tokenSetting: 'HEC_TOKEN', gzip: false }), context)
          : createHttpsJsonSink('json', HttpsJsonSinkSettings.parse({ url: r.url, tokenSetting: 'JSON_TOKEN', gzip: false }), context);
      try {
        const reasons: string[] = [];
        for (position = 150; position <= 240; position++) {
          const writer = await sink.open(content, { resumeAfter: 0, rejected: async (_rs, reason) => void reasons.push(reason) });
          await writer.write(one);
          await writer.close();
        }
        assert.equal(reasons.length, 91);
        assert.ok(reasons.some((reason) => reason.includes('[redacted]')), 'the echoed token was there to redact');
        assert.deepEqual(leaks(reasons.join('\n'), token), [], 'no piece of the token in a dead-letter reason');
        assert.deepEqual(leaks(context.lines.join('\n'), token), [], 'no piece of the token in a log line');
      } finally {
        sink.dispose();
        await r.close();
      }
    });
  }
});
