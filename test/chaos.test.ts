// Chaos, end to end: the Functions host (the built bundle, as a child process) relays all five content types from
// the API simulator to three sinks — blob storage on Azurite, an HTTPS JSON collector and Splunk HEC — while
// everything that can go wrong does: the SIEM receivers fail a third of their requests (5xx, 429, connections
// dropped, answers lost after the batch was kept), the host is killed with SIGKILL mid-blob and restarted, 20% of
// notifications come twice and 10% never, the API throttles (AF429 as 403 and 429) and answers 5xx at random, and
// one blob expires before it is fetched. Then: every record of every other blob reached every sink, the expired
// blob is reported as data loss, each duplicate is explained by a lost answer or a kill, nothing is poisoned, the
// reconciler's cursor skipped nothing, and no secret is anywhere in what the run left behind. Figures are printed.
//
// Profiles: `npm run test:chaos` runs the long one (110,000 records in 220 blobs, 4 kills); `npm test` the CI one
// (15,000 records in 60 blobs, 2 kills).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { contentTypes } from '../shared/api/content-types';
import { contentQueueName } from '../shared/state/content-queue';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { freePort } from '../dev/free-port';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';
import { simulatorClientSettings, startSimulator, type PublishedContent, type Simulator } from '../dev/simulator';
import { auditSink, type HostRun, type SinkAudit } from './support/delivery-audit';
import { startHost, until, sleep, type HostProcess } from './support/host-process';
import { blobNames, expectedSinkBlobName, notifiedContentIds, peekQueue, queueLength, sinkRecordIds } from './support/relay-observations';
import { SecretScan, storageTexts } from './support/secret-scan';
import { startReceiver, type Fault, type Receiver } from './support/siem-receiver';
import { byProfile, suiteProfile } from './support/suite-profile';

const profile = byProfile({
  ci: { records: 15_000, blobs: 60, kills: 2, deliveryTimeoutMs: 240_000 },
  long: { records: 110_000, blobs: 220, kills: 4, deliveryTimeoutMs: 1_200_000 },
});

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = randomBytes(24).toString('base64url');
const authId = randomBytes(24).toString('base64url');
const collectorToken = randomBytes(24).toString('base64url');
const hecToken = randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
const archive = 'o365-audit';
const batchRecords = 500;

/** A third of the receiver's requests fail: server errors, throttling, dropped connections, lost answers. */
function receiverFaults(seed: number, busy: Fault): (n: number) => Fault | undefined {
  const random = seededRandom(seed);
  return () => {
    const p = random();
    if (p < 0.12) return busy;
    if (p < 0.17) return { kind: 'status', status: 429, retryAfter: '1' };
    if (p < 0.25) return { kind: 'drop' };
    if (p < 1 / 3) return { kind: 'lose-answer' };
    return undefined;
  };
}

/** Blob sizes adding up to `records`: most alike, every 10th four times as large (a kill lands in one more often). */
function blobSizes(records: number, blobs: number): number[] {
  const large = (n: number) => n % 10 === 7;
  const units = Array.from({ length: blobs }, (_, n) => (large(n) ? 4 : 1));
  const unit = records / units.reduce((a, b) => a + b, 0);
  const sizes = units.map((u) => Math.floor(u * unit));
  sizes[0]! += records - sizes.reduce((a, b) => a + b, 0);
  return sizes;
}

let azurite: RunningAzurite;
let sim: Simulator;
let pki: ServerPki;
let collector: Receiver;
let hec: Receiver;
let ledger: TableLedger;
const hosts: HostProcess[] = [];

before(async () => {
  // The archive of the long profile alone is ~250 MB, over Azurite's default in-memory limit.
  azurite = await startAzurite({ memoryLimitBytes: 1024 * 1024 * 1024 });
  pki = await createServerPki();
  sim = await startSimulator({
    tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }],
    random: seededRandom(20261125),
    notifyRetryDelaysMs: [300, 600, 1200, 2400],
  });
  collector = await startReceiver({ protocol: 'json', pki, token: collectorToken, fault: receiverFaults(7, { kind: 'status', status: 503 }) });
  hec = await startReceiver({ protocol: 'hec', pki, token: hecToken, fault: receiverFaults(8, { kind: 'status', status: 503, body: { text: 'Server is busy', code: 9 } }) });
  ledger = createTableLedger({ connectionString: azurite.connectionString });
});

after(async () => {
  for (const host of hosts) await host.stop('SIGKILL');
  await collector?.close();
  await hec?.close();
  await sim?.close();
  await pki?.remove();
  await azurite?.close();
});

describe(`chaos (${suiteProfile} profile): kills, flaky SIEMs, lost and doubled notifications, throttling, an expired blob`, () => {
  it('delivers every record of every unexpired blob to every sink; every duplicate is explained; no secret anywhere', async (t) => {
    const began = Date.now();
    const port = await freePort();
    const webhook = `http://127.0.0.1:${port}/api/notifications`;
    const httpSink = { batchRecords, caFile: pki.caCertPath, timeoutMs: 10_000, maxRetryMs: 60_000 };
    const env: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
      O365_WEBHOOK_URL: webhook,
      O365_WEBHOOK_AUTH_ID: authId,
      O365_CONTENT_TYPES: contentTypes.join(','),
      O365_SINKS: JSON.stringify([
        { kind: 'blob', name: 'archive', container: archive, format: 'json' },
        { kind: 'https-json', name: 'collector', url: `${collector.url}/ingest`, tokenSetting: 'CHAOS_COLLECTOR_TOKEN', ...httpSink },
        { kind: 'splunk-hec', name: 'splunk', url: hec.url, tokenSetting: 'CHAOS_HEC_TOKEN', ...httpSink },
      ]),
      CHAOS_COLLECTOR_TOKEN: collectorToken,
      CHAOS_HEC_TOKEN: hecToken,
      // A killed worker's claim ends after 5 s, before its queue message shows again (message lease 6 s).
      O365_CLAIM_LEASE_SECONDS: '5',
      O365_RECONCILE_SCHEDULE: '*/3 * * * * *',
      O365_KEEPER_SCHEDULE: '*/2 * * * * *',
      // The most the host says, so the secret scan reads the most.
      O365_LOG_LEVEL: 'debug',
    };
    const runs: Array<HostRun & { host: HostProcess; claimsAtKill?: number }> = [];
    const start = async () => {
      const host = await startHost({ label: `host run ${runs.length + 1}`, port, env, hostJson: 'test/support/relay-chaos-host.json', messageLeaseSeconds: 6 }, webhook, authId);
      hosts.push(host);
      runs.push({ host, startedAt: host.startedAt });
      return host;
    };

    try {
      await start();
      await until('every subscription has our webhook', () => {
        const subscriptions = sim.subscriptions(tenantId);
        return contentTypes.every((ct) => subscriptions.some((s) => s.contentType === ct && s.status === 'enabled' && s.webhook?.address === webhook));
      }, 30_000);

      const notificationFaults = { dropNotifications: 0.1, duplicateNotifications: 0.2 };
      Object.assign(sim.faults, { ...notificationFaults, delayMs: 10, chance: { throttle: 0.03, serverError: 0.03 } });
      // Each kind of API fault surely happens at least once (403 now, 429 and 5xx after the first restart).
      sim.faults.throttle = { remaining: 2, status: 403 };
      // Chance decides the rest, but one notification is surely lost and one surely doubled.
      const sure: Record<number, Partial<typeof notificationFaults>> = { 5: { dropNotifications: 1 }, 6: { duplicateNotifications: 1 } };

      const sizes = blobSizes(profile.records, profile.blobs);
      const published: Array<{ content: PublishedContent; ids: string[] }> = [];
      let expired: { content: PublishedContent; ids: string[] } | undefined;
      for (const [n, size] of sizes.entries()) {
        const records = [...generateRecords(size, { seed: 5000 + n })];
        Object.assign(sim.faults, notificationFaults, sure[n]);
        const entry = { content: await sim.publish(tenantId, contentTypes[n % contentTypes.length]!, records), ids: records.map((r) => String(r['Id'])) };
        published.push(entry);
        // One blob (a large one) runs out its 7 days before anyone could fetch it.
        if (n === 17) {
          sim.expireContent(tenantId, entry.content.contentId);
          expired = entry;
        }
      }
      assert.ok(expired);
      const deliverable = published.filter((p) => p !== expired);
      const entryOf = (content: PublishedContent) => ledger.get({ tenantId, contentId: content.contentId });
      const claimedNow = async () => (await Promise.all(published.map(({ content }) => entryOf(content)))).filter((e) => e?.state === 'enqueued' && e.claim !== null && e.claim.until > Date.now()).length;

      // Kill the host at evenly spaced points of the collector's progress; each time some blob is mid-delivery.
      const total = deliverable.reduce((sum, p) => sum + p.ids.length, 0);
      for (let k = 1; k <= profile.kills; k++) {
        await until(`the collector has ${k}/${profile.kills + 1} of the records`, () => collector.accepted.length >= (total * k) / (profile.kills + 1), profile.deliveryTimeoutMs, 50);
        const run = runs[runs.length - 1]!;
        run.claimsAtKill = await claimedNow();
        await run.host.stop('SIGKILL');
        // Bytes a dead process had already put on the wire can still be read a moment later.
        await sleep(250);
        run.killedAt = Date.now();
        await start();
        if (k === 1) Object.assign(sim.faults, { throttle: { remaining: 2, status: 429, retryAfterSeconds: 1 }, serverErrors: { remaining: 2, status: 503 } });
      }

      await until('every blob is delivered or expired', async () => {
        const states = await Promise.all(published.map(async ({ content }) => (await entryOf(content))?.state));
        return states.every((s, i) => s === (published[i] === expired ? 'expired' : 'delivered'));
      }, profile.deliveryTimeoutMs, 500);
      // Duplicate messages drain too (one that found a claim held waits 15-30 s before it sees the blob finished).
      await until('the content queue is empty', async () => (await queueLength(azurite.connectionString, contentQueueName)) === 0, 90_000, 500);
      const cursorsBefore = await Promise.all(contentTypes.map((ct) => ledger.getCursor(tenantId, ct)));
      await until('the reconciler ran again', async () => {
        const now = await Promise.all(contentTypes.map((ct) => ledger.getCursor(tenantId, ct)));
        return now.every((c, i) => c !== undefined && c.getTime() > (cursorsBefore[i]?.getTime() ?? 0));
      }, 20_000, 250);
      const last = runs[runs.length - 1]!;
      await last.host.stop('SIGTERM');
      const seconds = (Date.now() - began) / 1000;

      // Every kill landed while blobs were being delivered.
      for (const run of runs.filter((r) => r.killedAt !== undefined)) assert.ok((run.claimsAtKill ?? 0) > 0, `${run.host.label} was killed with no blob in flight`);

      // The archive: every record exactly once (the blob sink commits all or nothing), nothing of the expired blob.
      const sink = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(archive);
      const expectedBlobs = new Map(deliverable.map(({ content, ids }) => [expectedSinkBlobName(tenantId, content), ids]));
      assert.deepEqual(await blobNames(sink), [...expectedBlobs.keys()].sort());
      for (const [name, ids] of expectedBlobs) assert.deepEqual(await sinkRecordIds(sink, name), ids, `${name}: not every record exactly once`);

      // The SIEMs: every record at least once; every duplicate explained and bounded.
      const expectedIds = new Map(deliverable.flatMap(({ content, ids }) => ids.map((id) => [id, content.contentId] as const)));
      const audits: Record<string, SinkAudit> = { collector: auditSink(collector.requests, expectedIds, runs), splunk: auditSink(hec.requests, expectedIds, runs) };
      const kills = runs.filter((r) => r.killedAt !== undefined).length;
      const claimedAtKills = runs.reduce((sum, r) => sum + (r.claimsAtKill ?? 0), 0);
      for (const [name, audit] of Object.entries(audits)) {
        assert.deepEqual(audit.missing.slice(0, 5), [], `${name}: ${audit.missing.length} records never arrived`);
        assert.deepEqual(audit.unexpected.slice(0, 5), [], `${name}: records that must not arrive`);
        assert.deepEqual(audit.unexplained.slice(0, 5), [], `${name}: ${audit.unexplained.length} duplicates no lost answer or kill explains`);
        assert.ok(audit.duplicates <= audit.bound, `${name}: ${audit.duplicates} duplicates, more than the ${audit.bound} records of the batches that explain them`);
        assert.ok(audit.events.killedBatches <= claimedAtKills, `${name}: more than one batch per blob in flight came again after the kills`);
      }

      // The expired blob: reported as data loss (ledger and log), none of its records anywhere.
      const lost = await entryOf(expired.content);
      assert.equal(lost?.state, 'expired');
      const logs = runs.map((r) => r.host.output.join(''));
      assert.ok(logs.some((log) => log.includes('content expired before delivery: data loss') && log.includes(expired!.content.contentId)), 'the expired blob was not logged as data loss');

      assert.deepEqual(await peekQueue(azurite.connectionString, `${contentQueueName}-poison`), [], 'a poison message was left');

      // The chaos happened: notifications were dropped (the reconciler found those) and doubled.
      const notified = notifiedContentIds(sim.journal);
      const neverNotified = published.filter(({ content }) => !notified.includes(content.contentId));
      assert.ok(neverNotified.length > 0, 'no notification was dropped');
      assert.ok(notified.length > new Set(notified).size, 'no notification was duplicated');
      const asUtc = (text: string | undefined) => Date.parse(text === undefined ? '' : /Z$/.test(text) ? text : `${text}Z`);
      for (const { content } of neverNotified) {
        const created = Date.parse(content.contentCreated);
        const listing = sim.journal.find((e) => e.direction === 'in' && e.status === 200 && e.path.endsWith('/subscriptions/content') &&
          e.query['contentType'] === content.contentType && asUtc(e.query['startTime']) <= created && created < asUtc(e.query['endTime']));
        assert.ok(listing, `no listing covered ${content.contentId}`);
      }
      // The cursor never passed content that was not listed or enqueued.
      for (const ct of contentTypes) {
        const cursor = await ledger.getCursor(tenantId, ct);
        assert.ok(cursor, `${ct} has no cursor`);
        for (const { content } of published.filter((p) => p.content.contentType === ct)) {
          assert.ok(Date.parse(content.contentCreated) <= cursor.getTime(), `${content.contentId} is ahead of the cursor`);
        }
      }

      const apiAnswers = (...statuses: number[]) => sim.journal.filter((e) => e.direction === 'in' && statuses.includes(e.status)).length;
      assert.ok(apiAnswers(403) > 0 && apiAnswers(429) > 0 && apiAnswers(500, 502, 503) > 0, 'the API did not throttle (403 and 429) and fail (5xx)');
      const faults = (r: Receiver) => ({
        failed: r.requests.filter((q) => q.outcome === 'failed').length,
        dropped: r.requests.filter((q) => q.outcome === 'dropped').length,
        lostAnswers: r.requests.filter((q) => q.answerLost).length,
      });
      const figures = [
        `profile ${suiteProfile}: ${published.length} blobs, ${profile.records} records over ${contentTypes.length} content types, ${seconds.toFixed(0)} s (${(profile.records / seconds).toFixed(0)} records/s through 3 sinks)`,
        `host runs ${runs.length}: ${kills} SIGKILLs, blobs claimed at each kill ${runs.filter((r) => r.killedAt).map((r) => r.claimsAtKill).join(', ')}`,
        `notifications: ${new Set(notified).size} of ${published.length} blobs notified (${published.length - new Set(notified).size} never), ${notified.length - new Set(notified).size} duplicates; API answers: 403 ${apiAnswers(403)}, 429 ${apiAnswers(429)}, 5xx ${apiAnswers(500, 502, 503)}`,
        `archive (blob): ${deliverable.length} blobs, every record exactly once`,
        ...Object.entries(audits).map(([name, a]) => {
          const r = name === 'collector' ? collector : hec;
          const f = faults(r);
          return `${name}: ${a.delivered}/${expectedIds.size} records, ${a.duplicates} duplicates (${a.byLostAnswer} after ${a.events.lostAnswers} lost answers, ${a.byKill} after kills in ${a.events.killedBatches} batches; bound ${a.bound}), unexplained 0; requests ${r.requests.length}: ${f.failed} failed, ${f.dropped} dropped, ${f.lostAnswers} answers lost`;
        }),
        `expired blob ${expired.content.contentId}: ${expired.ids.length} records reported as data loss (ledger state expired, error logged); poison messages 0`,
      ];
      for (const line of figures) t.diagnostic(line);

      // Secrets: nothing the run left behind holds any of them, in any encoding.
      const scan = new SecretScan({
        'client secret': clientSecret,
        'webhook authId': authId,
        'collector token': collectorToken,
        'HEC token': hecToken,
        ...Object.fromEntries(sim.knownSecrets().map((s, i) => [`simulator secret ${i + 1}`, s])),
      });
      for (const run of runs) scan.scan({ source: `${run.host.label} output`, text: run.host.output.join('') });
      scan.scan({ source: 'printed figures', text: figures.join('\n') });
      scan.scan({ source: 'simulator journal', text: JSON.stringify(sim.journal) });
      for (const [name, r] of [['collector', collector], ['splunk', hec]] as const) {
        for (const q of r.requests) scan.scan({ source: `${name} request ${q.n} events`, text: JSON.stringify(q.events) });
      }
      await scan.scanAll(storageTexts(azurite.connectionString));
      t.diagnostic(`secret scan: ${scan.texts} texts, ${(scan.bytes / 1e6).toFixed(1)} MB, ${scan.forms} secret forms (plain, base64 at 3 alignments, base64url, URL/form-encoded, JSON-escaped): ${scan.hits.length} hits`);
      assert.deepEqual(scan.hits, []);
    } catch (err) {
      for (const run of runs) process.stderr.write(run.host.tail() + '\n');
      throw err;
    }
  });
});
