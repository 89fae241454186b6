// The Sentinel sink against a local Logs Ingestion API stand-in (TLS, bearer tokens, 204/4xx/429/503 on demand)
// and the API simulator's Entra endpoint: a real ClientSecretCredential built from the sink's setting names gets
// tokens for the Monitor audience, and the stand-in checks each token with the simulator.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { simulatorCredentialOptions, startSimulator, type Simulator } from '../dev/simulator/index';
import { trustCaPolicy } from '../dev/simulator/trust';
import type { Clock } from '../shared/api/clock';
import { createLogger } from '../shared/log';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { createSentinelSink, SentinelSinkSettings, type SentinelSinkDeps } from '../shared/sinks/sentinel-sink';
import { columnNamePattern, defaultStreamName, reservedColumnNames, sentinelColumns, toSentinelRow } from '../shared/sinks/sentinel-table';
import { SinkError, type ContentRef, type SinkContext } from '../shared/sinks/sink';
import { readFixture, repoRoot } from './support/fixtures';
import { simulatorTokenCheck, startLogsIngestionReceiver, type Fault, type LogsIngestionReceiver } from './support/logs-ingestion-receiver';

const tenantId = '7b0c4f1e-2d3a-4c5b-8e9f-0a1b2c3d4e5f';
const clientId = '5f6e7d8c-9b0a-4123-8456-789abcdef012';
const clientSecret = 'sentinel-test-secret-Zq8~vN3pL0wR7tY2';
const ruleId = 'dcr-0123456789abcdef0123456789abcdef';
const content: ContentRef = {
  tenantId,
  contentType: 'Audit.Exchange',
  contentId: '20241125143712123000024$20241125143712123000024$audit_exchange$Audit_Exchange$emea0026',
  contentCreated: '2024-11-25T14:37:12.123Z',
};
const settingValues: Record<string, string> = { SENTINEL_TENANT_ID: tenantId, SENTINEL_CLIENT_ID: clientId, SENTINEL_CLIENT_SECRET: clientSecret };

const records = (n: number, seed = 1): DecodedRecord[] => [...generateRecords(n, { seed })].map(decodeRecord);
const idOf = (r: DecodedRecord): string => String(r.common.Id);

function testClock(): { clock: Clock; sleeps: number[] } {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      now: () => t,
      sleep: async (ms, signal) => {
        if (signal?.aborted) throw signal.reason;
        sleeps.push(ms);
        t += ms;
      },
    },
  };
}

let sim: Simulator;
let receiver: LogsIngestionReceiver;
let logLines: string[] = [];

before(async () => {
  // The simulator's API accepts only tokens for `manageResource`; set to the Monitor audience, it can vouch for the
  // tokens the sink sends (simulatorTokenCheck).
  sim = await startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }], manageResource: 'https://monitor.azure.com' });
  receiver = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName, authorize: simulatorTokenCheck(sim, tenantId) });
});
after(async () => {
  await receiver?.close();
  await sim?.close();
});

function context(): SinkContext {
  return {
    secret(name) {
      const value = settingValues[name];
      if (value === undefined) throw new Error(`setting ${name} is not set`);
      return value;
    },
    logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
  };
}

function sinkFor(target: { endpoint: string; caCertPem: string }, over: Record<string, unknown> = {}, deps: SentinelSinkDeps = {}) {
  const settings = SentinelSinkSettings.parse({
    endpoint: target.endpoint,
    ruleId,
    tenantIdSetting: 'SENTINEL_TENANT_ID',
    clientIdSetting: 'SENTINEL_CLIENT_ID',
    clientSecretSetting: 'SENTINEL_CLIENT_SECRET',
    maxBatchBytes: 64 * 1024,
    ...over,
  });
  const { clock, sleeps } = testClock();
  const sink = createSentinelSink('sentinel', settings, context(), {
    clock,
    random: seededRandom(7),
    credentialOptions: simulatorCredentialOptions(sim),
    additionalPolicies: [{ policy: trustCaPolicy(target.caCertPem), position: 'perCall' }],
    ...deps,
  });
  return { sink, sleeps };
}

/** Writes in slices as the worker does; returns the writer whether close() resolved or not. */
async function deliver(sink: ReturnType<typeof sinkFor>['sink'], input: readonly DecodedRecord[], resumeAfter = 0, rejected?: (r: readonly DecodedRecord[], reason: string) => Promise<void>) {
  const writer = await sink.open(content, { resumeAfter, ...(rejected ? { rejected } : {}) });
  let error: unknown;
  try {
    for (let i = 0; i < input.length; i += 100) await writer.write(input.slice(i, i + 100));
    await writer.close();
  } catch (err) {
    error = err;
  }
  return { writer, error };
}

function reset() {
  receiver.rows.length = 0;
  receiver.requests.length = 0;
  receiver.faults = () => undefined;
  logLines = [];
}

function assertNoSecrets(...texts: string[]) {
  for (const text of texts) assert.ok(!text.includes(clientSecret), 'the client secret leaked');
}

describe('the custom table', () => {
  it('has valid, unique, unreserved column names and TimeGenerated', () => {
    const names = sentinelColumns.map((c) => c.name);
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length);
    for (const name of names) {
      assert.match(name, columnNamePattern);
      assert.ok(!reservedColumnNames.some((r) => r.toLowerCase() === name.toLowerCase()), `${name} is reserved`);
    }
    assert.equal(sentinelColumns.find((c) => c.name === 'TimeGenerated')?.type, 'datetime');
    assert.ok(names.includes('RecordId'));
  });

  it('matches the Bicep column list, names and types in order', () => {
    const bicep = readFileSync(path.join(repoRoot, 'infra', 'sentinel-table.bicep'), 'utf8');
    const block = /\nvar columns = \[([\s\S]*?)\n\]\n/.exec(bicep)?.[1];
    assert.ok(block, 'var columns = [...] not found in the Bicep file');
    const declared = [...block.matchAll(/name: '([^']+)'\s+type: '([^']+)'/g)].map((m) => ({ name: m[1], type: m[2] }));
    assert.deepEqual(declared, sentinelColumns.map((c) => ({ name: c.name, type: c.type })));
    // Both the table and the stream declaration are built from that one list, and the stream is the sink's default.
    assert.match(bicep, /columns: \[for c in columns: \{/);
    assert.equal([...bicep.matchAll(/\[for c in columns:/g)].length, 2);
    assert.match(bicep, /var tableName = 'O365AuditRelay_CL'/);
    assert.equal(defaultStreamName, 'Custom-O365AuditRelay_CL');
    assert.match(bicep, /transformKql: 'source'/);
    assert.match(bicep, /3913510d-42f4-4e42-8a64-420c390055eb/); // Monitoring Metrics Publisher
    for (const type of ['workspaces/tables', 'dataCollectionEndpoints', 'dataCollectionRules', 'roleAssignments']) assert.match(bicep, new RegExp(`/${type}@`));
    // No Bicep compiler here: at least the brackets outside strings and comments must balance.
    const code = bicep.replace(/\/\/.*$/gm, '').replace(/'(?:[^'\\]|\\.)*'/g, "''");
    for (const [open, close] of [['{', '}'], ['[', ']'], ['(', ')']] as const) {
      let depth = 0;
      for (const ch of code) {
        if (ch === open) depth++;
        if (ch === close) depth--;
        assert.ok(depth >= 0, `unbalanced ${close}`);
      }
      assert.equal(depth, 0, `unbalanced ${open}`);
    }
  });

  it('shapes fixture records into flat columns with the record Id and UTC times', () => {
    for (const file of ['Audit.Exchange.json', 'Audit.AzureActiveDirectory.json', 'Audit.SharePoint.json']) {
      for (const raw of readFixture<unknown[]>('content', file)) {
        const decoded = decodeRecord(raw);
        const row = toSentinelRow(decoded, content, { maxFieldBytes: 32_768 });
        assert.equal(row.RecordId, decoded.common.Id);
        assert.match(String(row.TimeGenerated), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
        assert.equal(row.RecordType, decoded.common.RecordType);
        assert.equal(row.ContentId, content.contentId);
        assert.deepEqual(row.Raw, raw);
        for (const key of Object.keys(row)) assert.ok(sentinelColumns.some((c) => c.name === key), `${key} is not a column`);
      }
    }
  });

  it('keeps every field under the size limit and says what it cut', () => {
    const big: Record<string, unknown> = { ...readFixture<Record<string, unknown>[]>('content', 'Audit.Exchange.json')[0], Huge: 'x'.repeat(50_000) };
    const row = toSentinelRow(decodeRecord(big), content, { maxFieldBytes: 4096 });
    assert.equal(row.Raw, undefined);
    assert.equal(row.Fields, undefined);
    assert.deepEqual(row.Truncated, ['Fields', 'Raw']);
    const tiny = toSentinelRow(decodeRecord(big), content, { maxFieldBytes: 64 });
    assert.ok(String(tiny.Line).endsWith('…') && Buffer.byteLength(String(tiny.Line)) <= 64);
    assert.ok((tiny.Truncated as string[]).includes('Line'));
    for (const value of Object.values(row)) assert.ok(Buffer.byteLength(typeof value === 'string' ? value : JSON.stringify(value)) <= 4096);
    assert.equal(row.RecordId, big.Id);
  });
});

describe('settings', () => {
  it('default the stream and the limits, and insist on https and a DCR immutable id', () => {
    const s = SentinelSinkSettings.parse({ endpoint: 'https://dce-x.westeurope-1.ingest.monitor.azure.com', ruleId });
    assert.equal(s.streamName, 'Custom-O365AuditRelay_CL');
    assert.equal(s.maxBatchBytes, 1_000_000);
    assert.equal(SentinelSinkSettings.safeParse({ endpoint: 'http://dce-x.ingest.monitor.azure.com', ruleId }).success, false);
    assert.equal(SentinelSinkSettings.safeParse({ endpoint: 'https://x', ruleId: '/subscriptions/x/dataCollectionRules/y' }).success, false);
    assert.equal(SentinelSinkSettings.safeParse({ endpoint: 'https://x', ruleId, audience: 'https://evil.example' }).success, false);
    assert.equal(SentinelSinkSettings.safeParse({ endpoint: 'https://x', ruleId, clientSecret: 'inline' }).data?.hasOwnProperty('clientSecret'), false);
  });

  it('refuse half a client-secret configuration', () => {
    const settings = SentinelSinkSettings.parse({ endpoint: 'https://x.example', ruleId, clientSecretSetting: 'SENTINEL_CLIENT_SECRET' });
    assert.throws(() => createSentinelSink('sentinel', settings, context()), (err: unknown) => err instanceof SinkError && !err.retryable);
  });
});

describe('delivery to the Logs Ingestion API', () => {
  it('sends every record once, gzip, in bodies under the limit, with a Monitor-audience token', async () => {
    reset();
    const input = records(1200);
    const { sink } = sinkFor(receiver);
    const { writer, error } = await deliver(sink, input);
    assert.equal(error, undefined);
    assert.equal(writer.accepted, input.length);
    assert.deepEqual(receiver.rows.map((r) => r.RecordId), input.map(idOf));
    assert.ok(receiver.requests.length > 5, 'several batches');
    for (const req of receiver.requests) {
      assert.equal(req.status, 204);
      assert.equal(req.gzip, true);
      // One upload() = one request, and batches are filled up to the limit (the last one excepted).
      assert.ok((req.jsonBytes <= 64 * 1024 && req.jsonBytes > 48 * 1024) || req === receiver.requests.at(-1), `body of ${req.jsonBytes} bytes`);
    }
    const tokenRequests = sim.journal.filter((e) => e.direction === 'in' && /\/oauth2\/v2\.0\/token$/.test(e.path));
    assert.ok(tokenRequests.length >= 1);
    for (const t of tokenRequests) assert.equal((t.body as Record<string, string>).scope, 'https://monitor.azure.com/.default');
    assertNoSecrets(...logLines, JSON.stringify(receiver.rows));
  });

  it('asks for a sovereign-cloud audience when told, which this endpoint refuses: a configuration error', async () => {
    reset();
    const { sink } = sinkFor(receiver, { audience: 'https://monitor.azure.us' });
    const { writer, error } = await deliver(sink, records(10));
    assert.ok(error instanceof SinkError && !error.retryable, String(error));
    assert.match(error.message, /Monitoring Metrics Publisher/);
    assert.equal(writer.accepted, 0);
    const last = sim.journal.filter((e) => /\/oauth2\/v2\.0\/token$/.test(e.path)).at(-1);
    assert.equal((last?.body as Record<string, string>).scope, 'https://monitor.azure.us/.default');
    assertNoSecrets(error.message, ...logLines);
  });

  it('skips exactly resumeAfter records and counts them as accepted', async () => {
    reset();
    const input = records(500, 2);
    const { sink } = sinkFor(receiver);
    const { writer, error } = await deliver(sink, input, 137);
    assert.equal(error, undefined);
    assert.equal(writer.accepted, 500);
    assert.deepEqual(receiver.rows.map((r) => r.RecordId), input.slice(137).map(idOf));
  });

  it('waits out 429 and 503 with Retry-After, then delivers without duplicates', async () => {
    reset();
    receiver.failNext(2, { status: 429, retryAfter: '7' });
    receiver.failNext(1, { status: 503, retryAfter: '3' });
    receiver.failNext(1, { drop: true });
    const input = records(300, 3);
    const { sink, sleeps } = sinkFor(receiver);
    const { writer, error } = await deliver(sink, input);
    assert.equal(error, undefined);
    assert.equal(writer.accepted, 300);
    assert.deepEqual(receiver.rows.map((r) => r.RecordId), input.map(idOf));
    assert.ok(sleeps[0]! >= 7000 && sleeps[1]! >= 7000 && sleeps[2]! >= 3000, `sleeps ${sleeps.join(',')}`);
    assert.equal(sleeps.length, 4);
  });

  it('retries a request that gets no answer within requestTimeoutMs', async () => {
    reset();
    receiver.failNext(1, { delayMs: 500 });
    const input = records(50, 10);
    const { sink, sleeps } = sinkFor(receiver, { requestTimeoutMs: 150 });
    const { writer, error } = await deliver(sink, input);
    assert.equal(error, undefined);
    assert.equal(writer.accepted, 50);
    assert.equal(sleeps.length, 1);
    assert.ok(logLines.some((l) => l.includes('no answer within 150 ms')));
    // The timed-out request is still handled by the receiver (its rows may be taken late): wait for it, then count
    // Ids, not rows — a timeout is the one case where a duplicate can arrive, and RecordId identifies it.
    for (let waited = 0; receiver.requests.some((r) => r.status === 0) && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    assert.ok(receiver.requests.every((r) => r.status !== 0));
    assert.deepEqual([...new Set(receiver.rows.map((r) => r.RecordId))], input.map(idOf));
  });

  it('hands only the row the service refuses (400) to the dead letter and goes on', async () => {
    const input = records(400, 4);
    const poison = idOf(input[150]!);
    const refusing = await startLogsIngestionReceiver({
      ruleId,
      stream: defaultStreamName,
      validateRow: (row) => (row.RecordId === poison ? 'the row does not match the stream' : undefined),
    });
    try {
      const dead: DecodedRecord[] = [];
      const reasons: string[] = [];
      const { sink } = sinkFor(refusing);
      const { writer, error } = await deliver(sink, input, 0, async (r, reason) => {
        dead.push(...r);
        reasons.push(reason);
      });
      assert.equal(error, undefined);
      assert.equal(writer.accepted, 400);
      assert.deepEqual(dead.map(idOf), [poison], 'only the refused row, not its batch');
      assert.deepEqual(reasons, ['Logs Ingestion API HTTP 400 InvalidPayload']);
      // Every record is either taken or in the dead letter, once, in order.
      const received = refusing.rows.map((r) => r.RecordId);
      assert.equal(received.length + dead.length, 400);
      assert.deepEqual([...received, ...dead.map(idOf)].sort(), input.map(idOf).sort());
      assert.equal(new Set(received).size, received.length);
    } finally {
      await refusing.close();
    }
  });

  it('splits a batch the service finds too large (413), and dead-letters a single row that is still too large', async () => {
    const small = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName, maxBodyBytes: 20_000 });
    try {
      const input = records(200, 5);
      const big = { ...(input[10]!.raw as Record<string, unknown>), Padding: 'y'.repeat(25_000) };
      input[10] = decodeRecord(big);
      const dead: DecodedRecord[] = [];
      const { sink } = sinkFor(small, { maxBatchBytes: 200_000 });
      const { writer, error } = await deliver(sink, input, 0, async (r) => void dead.push(...r));
      assert.equal(error, undefined);
      assert.equal(writer.accepted, 200);
      assert.deepEqual(dead.map(idOf), [idOf(input[10]!)]);
      assert.deepEqual(small.rows.map((r) => r.RecordId), input.filter((_, i) => i !== 10).map(idOf));
      assert.ok(small.requests.some((r) => r.status === 413));
    } finally {
      await small.close();
    }
  });

  it('treats a refused token (403), an unknown rule (404) and a wrong secret as configuration errors', async () => {
    const strict = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName, authorize: async () => false });
    try {
      const { error } = await deliver(sinkFor(strict).sink, records(5));
      assert.ok(error instanceof SinkError && !error.retryable && /HTTP 403/.test(error.message), String(error));
    } finally {
      await strict.close();
    }
    reset();
    const other = await deliver(sinkFor(receiver, { ruleId: 'dcr-ffffffffffffffffffffffffffffffff' }).sink, records(5));
    assert.ok(other.error instanceof SinkError && !other.error.retryable && /HTTP 404/.test(other.error.message), String(other.error));

    settingValues.WRONG_SECRET = 'not-the-secret-9f8e7d6c';
    try {
      const wrong = await deliver(sinkFor(receiver, { clientSecretSetting: 'WRONG_SECRET' }).sink, records(5));
      assert.ok(wrong.error instanceof SinkError && !wrong.error.retryable && /sign-in/.test(wrong.error.message), String(wrong.error));
      assert.equal(wrong.writer.accepted, 0);
      assert.ok(!wrong.error.message.includes('not-the-secret'));
    } finally {
      delete settingValues.WRONG_SECRET;
    }
    assert.equal(receiver.rows.length, 0);
  });
});

describe('failure runs', () => {
  it('a receiver failing a third of requests at random: every Id arrives once, no accepted batch is re-sent', async () => {
    reset();
    const random = seededRandom(42);
    const faults: Fault[] = [{ status: 503, retryAfter: '1' }, { status: 429, retryAfter: '2' }, { status: 500 }, { drop: true }];
    receiver.faults = () => (random() < 1 / 3 ? faults[Math.floor(random() * faults.length)] : undefined);
    const input = records(2000, 6);
    // As the worker does: a failed delivery is retried later from the accepted count the ledger kept.
    let resumeAfter = 0;
    let deliveries = 0;
    const { sink } = sinkFor(receiver, { maxAttempts: 3 });
    for (; deliveries < 20; deliveries++) {
      const { writer, error } = await deliver(sink, input, resumeAfter);
      if (error === undefined) break;
      assert.ok(error instanceof SinkError && error.retryable, String(error));
      assert.ok(writer.accepted >= resumeAfter);
      resumeAfter = writer.accepted;
      // Accepted is truthful: exactly the records received so far.
      assert.equal(receiver.rows.length, resumeAfter);
    }
    assert.ok(deliveries < 20, "delivery did not finish");
    assert.ok(deliveries >= 1, `the resume path ran (${deliveries} failed deliveries)`);
    const ids = receiver.rows.map((r) => r.RecordId);
    assert.equal(new Set(ids).size, ids.length, 'duplicates');
    assert.deepEqual(ids, input.map(idOf));
    assert.ok(receiver.requests.some((r) => r.fault !== undefined), 'faults were injected');
  });

  it('a receiver that goes down mid-blob: close() rejects retryable and accepted says how far it got', async () => {
    reset();
    let requests = 0;
    receiver.faults = () => (requests++ >= 3 ? { drop: true } : undefined);
    const input = records(1000, 8);
    const { sink, sleeps } = sinkFor(receiver);
    const { writer, error } = await deliver(sink, input);
    assert.ok(error instanceof SinkError && error.retryable, String(error));
    assert.equal(receiver.requests.filter((r) => r.status === 204).length, 3);
    assert.equal(writer.accepted, receiver.rows.length);
    assert.ok(writer.accepted > 0 && writer.accepted < 1000);
    assert.equal(sleeps.length, 5, 'bounded attempts (6 by default)');
    await assert.rejects(writer.close(), (err: unknown) => err === error, 'the writer stays failed');
  });

  it('the caller cancelling mid-request: a retryable SINK_ABORTED error, accepted unchanged', async () => {
    reset();
    const controller = new AbortController();
    let requests = 0;
    receiver.faults = () => {
      if (++requests < 2) return undefined;
      controller.abort();
      return { delayMs: 200 };
    };
    const { sink } = sinkFor(receiver);
    const input = records(300, 9);
    const writer = await sink.open(content, { resumeAfter: 0, signal: controller.signal });
    const error = await (async () => {
      for (let i = 0; i < input.length; i += 100) await writer.write(input.slice(i, i + 100));
      await writer.close();
    })().then(() => undefined, (err: unknown) => err);
    assert.ok(error instanceof SinkError && error.retryable && error.code === 'SINK_ABORTED', String(error));
    assert.equal(writer.accepted, receiver.rows.length);
  });

  it('a receiver down for the whole run: retryable SinkError, accepted = resumeAfter', async () => {
    const gone = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName });
    const target = { endpoint: gone.endpoint, caCertPem: gone.caCertPem };
    await gone.close(); // nothing listens on that port any more
    const { writer, error } = await deliver(sinkFor(target).sink, records(50), 20);
    assert.ok(error instanceof SinkError && error.retryable && /no answer/.test(error.message), String(error));
    assert.equal(writer.accepted, 20);
    assertNoSecrets(error.message, ...logLines);
  });
});
