// Chaos: the Functions host as a child process (the built bundle), killed with SIGKILL while a blob is in flight
// and restarted, with the API dropping 10% and duplicating 20% of notifications and throttling a few requests.
// Azurite and the simulator live in this process, so they survive the kill. Afterwards every record of every
// published blob is in the sink exactly once, nothing is poisoned, and the reconciler's cursor skipped nothing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContentType } from '../shared/api/content-types';
import { contentQueueName } from '../shared/state/content-queue';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';
import { BlobServiceClient } from '@azure/storage-blob';
import { freePort } from '../dev/free-port';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { simulatorClientSettings, startSimulator, type PublishedContent, type Simulator } from '../dev/simulator';
import { repoRoot } from './support/fixtures';
import { blobNames, contentFetches, expectedSinkBlobName, notifiedContentIds, peekQueue, queueLength, sinkRecordIds } from './support/relay-observations';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = randomBytes(24).toString('base64url');
const authId = randomBytes(24).toString('base64url');
const streams: readonly ContentType[] = ['Audit.Exchange', 'Audit.SharePoint'];
const container = 'o365-audit';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(everyMs);
  }
}

/** The test's environment without the test runner's own markers and without any relay settings of the caller. */
function inherited(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(NODE_TEST_CONTEXT$|O365_|AzureWebJobs)/.test(e[0])));
}

/** One run of the dev host as a separate process; its output is kept for a failure report. */
class HostProcess {
  readonly output: string[] = [];
  readonly exited: Promise<NodeJS.Signals | number | null>;
  private readonly child: ChildProcess;

  constructor(readonly label: string, port: number, env: Record<string, string>) {
    this.child = spawn(
      process.execPath,
      [path.join(repoRoot, 'dist', 'dev', 'host', 'main.js'), '--app', '.', '--port', String(port), '--host-json', path.join('test', 'support', 'relay-chaos-host.json'), '--message-lease', '4'],
      { cwd: repoRoot, env: { ...inherited(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString('utf8'));
      if (this.output.length > 400) this.output.splice(0, 100);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(signal ?? code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  tail(): string {
    return `--- ${this.label} (last output) ---\n${this.output.join('').slice(-6000)}`;
  }
}

let azurite: RunningAzurite;
let sim: Simulator;
let ledger: TableLedger;
const hosts: HostProcess[] = [];

before(async () => {
  azurite = await startAzurite();
  sim = await startSimulator({
    tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }],
    random: seededRandom(20261125),
    notifyRetryDelaysMs: [300, 600, 1200, 2400],
  });
  ledger = createTableLedger({ connectionString: azurite.connectionString });
});

after(async () => {
  for (const host of hosts) await host.stop('SIGKILL');
  await sim?.close();
  await azurite?.close();
});

describe('chaos: the host killed mid-blob and restarted, notifications dropped and duplicated, throttling', () => {
  it('delivers every record of every published blob exactly once', async () => {
    const port = await freePort();
    const webhook = `http://127.0.0.1:${port}/api/notifications`;
    const env: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
      O365_WEBHOOK_URL: webhook,
      O365_WEBHOOK_AUTH_ID: authId,
      O365_CONTENT_TYPES: streams.join(','),
      O365_BLOB_FORMAT: 'json',
      O365_BLOB_CONTAINER: container,
      // A killed worker's claim ends after 2 s, before its queue message shows again (--message-lease 4).
      O365_CLAIM_LEASE_SECONDS: '2',
      O365_RECONCILE_SCHEDULE: '*/3 * * * * *',
      // The keeper subscribes on its schedule; it skips streams started less than 15 minutes ago.
      O365_KEEPER_SCHEDULE: '*/2 * * * * *',
      O365_LOG_LEVEL: 'warn',
    };
    const start = async (label: string) => {
      const host = new HostProcess(label, port, env);
      hosts.push(host);
      await until(`${label} answers its webhook`, async () => {
        if (!host.running) throw new Error(`${label} exited\n${host.tail()}`);
        const answer = await fetch(webhook, { method: 'POST', headers: { 'Webhook-AuthID': authId }, body: '{"validationCode":"ready?"}' }).catch(() => undefined);
        return answer?.status === 200;
      }, 15_000, 100);
      return host;
    };

    try {
      const first = await start('host run 1');
      await until('both subscriptions have our webhook', () => {
        const subscriptions = sim.subscriptions(tenantId);
        return streams.every((ct) => subscriptions.some((s) => s.contentType === ct && s.status === 'enabled' && s.webhook?.address === webhook));
      }, 15_000);

      sim.faults.dropNotifications = 0.1;
      sim.faults.duplicateNotifications = 0.2;
      sim.faults.throttle = { remaining: 3, status: 403 };
      sim.faults.delayMs = 100;

      // 20 blobs of 200 records, and 4 large ones (4,000 records) so the kill can land while one is being written.
      const published: Array<{ content: PublishedContent; ids: string[]; large: boolean }> = [];
      for (let n = 0; n < 24; n++) {
        const large = n % 6 === 3;
        const recs = [...generateRecords(large ? 4000 : 200, { seed: 1000 + n })];
        const content = await sim.publish(tenantId, streams[n % streams.length]!, recs);
        published.push({ content, ids: recs.map((r) => String(r['Id'])), large });
      }
      const entryOf = (content: PublishedContent) => ledger.get({ tenantId, contentId: content.contentId });

      // Kill the host mid-blob: as soon as the API has started sending a large blob (its 4 MB body is still on its
      // way to the host, or being decoded and staged), before the host can have finished it.
      let inFlight: PublishedContent | undefined;
      await until('a large blob is being downloaded', () => {
        inFlight = published.find(({ content, large }) => large && contentFetches(sim.journal, content.contentId).some((e) => e.status === 200))?.content;
        return inFlight !== undefined;
      }, 20_000, 2);
      await first.stop('SIGKILL');
      const afterKill = await entryOf(inFlight!);
      assert.equal(afterKill?.state, 'enqueued', 'the kill did not land while the blob was in flight');
      assert.notEqual(afterKill.claim, null, 'the killed host held no claim on the blob');

      await start('host run 2');
      sim.faults.throttle = { remaining: 2, status: 403 };

      await until('every published blob is delivered', async () => {
        const states = await Promise.all(published.map(async ({ content }) => (await entryOf(content))?.state));
        return states.every((s) => s === 'delivered');
      }, 60_000, 250);
      // Duplicates drain too, so nothing is left that could write a blob twice. (A duplicate that found the claim
      // held waits at least the worker's shortest re-enqueue delay, 15-30 s, before it sees the blob finished.)
      await until('the content queue is empty', async () => (await queueLength(azurite.connectionString, contentQueueName)) === 0, 45_000, 250);
      const second = hosts[hosts.length - 1]!;
      // Let one more reconciler run over the settled ledger, then stop the host as Azure would.
      const cursorsBefore = await Promise.all(streams.map((ct) => ledger.getCursor(tenantId, ct)));
      await until('the reconciler ran again', async () => {
        const now = await Promise.all(streams.map((ct) => ledger.getCursor(tenantId, ct)));
        return now.every((c, i) => c !== undefined && c.getTime() > (cursorsBefore[i]?.getTime() ?? 0));
      }, 10_000, 250);
      await second.stop('SIGTERM');

      const sink = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
      const expected = new Map(published.map(({ content, ids }) => [expectedSinkBlobName(tenantId, content), ids]));
      assert.deepEqual(await blobNames(sink), [...expected.keys()].sort());
      for (const [name, ids] of expected) assert.deepEqual(await sinkRecordIds(sink, name), ids, `${name}: not every record exactly once`);

      assert.deepEqual(await peekQueue(azurite.connectionString, `${contentQueueName}-poison`), []);
      const killed = await entryOf(inFlight!);
      assert.equal(killed?.state, 'delivered');
      assert.ok((killed?.attempts ?? 0) >= 2, 'the in-flight blob was claimed again after the kill');

      // The chaos really happened: some notifications never came (the reconciler found those), some came twice.
      const notified = notifiedContentIds(sim.journal);
      const neverNotified = published.filter(({ content }) => !notified.includes(content.contentId));
      assert.ok(neverNotified.length > 0, 'no notification was dropped');
      assert.ok(notified.length > new Set(notified).size, 'no notification was duplicated');

      // The blobs whose notification never came were delivered because a reconciler listing (answered 200) covered them.
      const asUtc = (text: string | undefined) => Date.parse(text === undefined ? '' : /Z$/.test(text) ? text : `${text}Z`);
      for (const { content } of neverNotified) {
        const created = Date.parse(content.contentCreated);
        const listing = sim.journal.find((e) => e.direction === 'in' && e.status === 200 && e.path.endsWith('/subscriptions/content') &&
          e.query['contentType'] === content.contentType && asUtc(e.query['startTime']) <= created && created < asUtc(e.query['endTime']));
        assert.ok(listing, `no listing covered ${content.contentId}`);
      }

      // The cursor never passed content that was not listed or enqueued: all of it is known and delivered.
      for (const ct of streams) {
        const cursor = await ledger.getCursor(tenantId, ct);
        assert.ok(cursor, `${ct} has no cursor`);
        for (const { content } of published.filter((p) => p.content.contentType === ct)) {
          assert.ok(Date.parse(content.contentCreated) <= cursor.getTime(), `${content.contentId} is ahead of the cursor`);
          assert.equal((await entryOf(content))?.state, 'delivered');
        }
      }
    } catch (err) {
      for (const host of hosts) process.stderr.write(host.tail() + '\n');
      throw err;
    }
  });
});
