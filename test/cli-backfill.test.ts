// The poll-mode CLI end to end: the real o365-relay process, the real @azure/identity client-secret flow and
// the local API simulator over TLS.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import { fixturePath, repoRoot } from './support/fixtures';
import { eventId, startReceiver } from './support/siem-receiver';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'cli-test-secret-5b1f0d7e9c';
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

let sim: Simulator;
let env: NodeJS.ProcessEnv;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const records = (name: string) => JSON.parse(readFileSync(fixturePath('content', `${name}.json`), 'utf8')) as unknown[];

before(async () => {
  sim = await startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }], pageSize: 2 });
  env = {
    PATH: process.env.PATH,
    ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
    O365_CONTENT_TYPES: 'Audit.Exchange,Audit.SharePoint',
  };
});
after(() => sim.close());

describe('o365-relay against the simulator', () => {
  it('starts subscriptions, lists content across pages and backfills every record as a line', async () => {
    const start = await run(['subscriptions', 'start']);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /Audit\.Exchange started/);
    const blobs = [];
    for (let i = 0; i < 3; i++) blobs.push(await sim.publishFile(tenantId, 'Audit.Exchange', fixturePath('content', 'Audit.Exchange.json')));
    blobs.push(await sim.publishFile(tenantId, 'Audit.SharePoint', fixturePath('content', 'Audit.SharePoint.json')));

    const listed = await run(['content', 'list', '--since', '1h', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const ids = listed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { contentId: string }).contentId);
    assert.deepEqual(ids.sort(), blobs.map((b) => b.contentId).sort(), 'every blob listed once, across pages');

    const backfill = await run(['backfill', '--since', '1h']);
    assert.equal(backfill.code, 0, backfill.stderr);
    const lines = backfill.stdout.trim().split('\n');
    assert.equal(lines.length, 3 * records('Audit.Exchange').length + records('Audit.SharePoint').length);
    assert.match(backfill.stderr, /backfill: blobs 4\/4 \(0 failed, 0 expired\), 0 listed item\(s\) refused/);
    assert.equal(sim.tokenRequests(tenantId) >= 1, true);
  });

  it('filters, writes JSON, and never prints the client secret', async () => {
    const r = await run(['backfill', '--since', '1h', '--content-type', 'Audit.Exchange', '--format', 'json', '--exclude', 'exchangeMailboxActivity']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { recordType: { id: number } });
    assert.ok(events.length > 0 && events.every((e) => e.recordType.id === 1));
    assert.ok(!r.stdout.includes(clientSecret) && !r.stderr.includes(clientSecret));
  });

  it('a refused listed item costs only itself: content list and backfill report it on stderr, go on, and exit 2', async () => {
    const since = new Date(Date.now() - 30 * 60_000);
    const good: string[] = [];
    for (let i = 0; i < 5; i++) {
      good.push((await sim.publishFile(tenantId, 'Audit.SharePoint', fixturePath('content', 'Audit.SharePoint.json'), { contentCreated: new Date(since.getTime() + (i + 1) * 60_000) })).contentId);
    }
    const foreignId = `${good[0]!}x`;
    const odd = [
      { contentType: 'Audit.SharePoint', contentId: foreignId, contentUri: `https://evil.example/api/v1.0/${tenantId}/activity/feed/audit/${foreignId}`, contentCreated: since.toISOString(), contentExpiration: since.toISOString() },
      null,
      { contentType: 'Audit.SharePoint', contentId: `${good[1]!}y`, contentUri: `${sim.apiRoot(tenantId)}/audit/${good[1]!}y`, contentCreated: 'yesterday', contentExpiration: since.toISOString() },
    ];
    // At random places among the good blobs (pageSize 2: on random pages).
    for (const raw of odd) {
      sim.injectListingItem(tenantId, 'Audit.SharePoint', raw, { contentCreated: new Date(since.getTime() + (1 + Math.floor(Math.random() * 5)) * 60_000 + 30_000) });
    }
    // Bounded: the first test's blob (published now) stays outside.
    const window = ['--since', since.toISOString(), '--until', new Date(since.getTime() + 10 * 60_000).toISOString(), '--content-type', 'Audit.SharePoint'];

    const listed = await run(['content', 'list', ...window, '--json']);
    assert.equal(listed.code, 2, listed.stderr);
    const ids = listed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { contentId: string }).contentId);
    assert.deepEqual(ids.sort(), [...good].sort());
    assert.match(listed.stderr, new RegExp(`contentId ${foreignId.replace(/\$/g, '\\$')}\\) refused, not fetched: contentUri is not on the API origin`));
    assert.match(listed.stderr, /refused, not fetched: not an object \(null\)/);
    assert.match(listed.stderr, /refused, not fetched: missing or unreadable contentCreated/);
    assert.match(listed.stderr, /content: 3 listed item\(s\) refused/);
    assert.doesNotMatch(listed.stderr, /evil\.example/, 'the foreign URI itself is not echoed');

    const mark = sim.journal.length;
    const backfill = await run(['backfill', ...window]);
    assert.equal(backfill.code, 2, backfill.stderr);
    assert.equal(backfill.stdout.trim().split('\n').length, 5 * records('Audit.SharePoint').length, 'every good blob backfilled');
    assert.match(backfill.stderr, /backfill: blobs 5\/5 \(0 failed, 0 expired\), 3 listed item\(s\) refused/);
    assert.equal((backfill.stderr.match(/refused, not fetched/g) ?? []).length, 3);
    const fetched = sim.journal.slice(mark).filter((e) => e.direction === 'in' && e.path.includes('/audit/'));
    assert.equal(fetched.length, 5, 'only the good blobs were fetched');
  });

  it('stops on a bad setting with its name', async () => {
    const saved = env;
    env = { ...env, O365_TENANT_ID: 'contoso.com' };
    const r = await run(['content', 'list', '--since', '1h']);
    env = saved;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /O365_TENANT_ID/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('backfill --sink says how many records the destination rejected, and why, and exits 3', async () => {
    const published = await sim.publishFile(tenantId, 'Audit.Exchange', fixturePath('content', 'Audit.Exchange.json'));
    const ids = (records('Audit.Exchange') as Array<{ Id: string }>).map((r) => r.Id);
    const bad = new Set([ids[2]!, ids[20]!]);
    const receiver = await startReceiver({ protocol: 'json', token: 'backfill-sink-token-0123456789', badEvent: (e) => bad.has(eventId(e) ?? '') });
    const saved = env;
    env = {
      ...env,
      SIEM_TOKEN: 'backfill-sink-token-0123456789',
      O365_SINKS: JSON.stringify([{ kind: 'https-json', name: 'siem', url: `${receiver.url}/in`, tokenSetting: 'SIEM_TOKEN' }]),
    };
    try {
      const created = Date.parse(published.contentCreated);
      const r = await run(['backfill', '--since', new Date(created - 1000).toISOString(), '--until', new Date(created + 1000).toISOString(), '--content-type', 'Audit.Exchange', '--sink', 'siem']);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`sink siem: ${ids.length - 2} delivered, 2 rejected \\(.*400`));
      assert.deepEqual(receiver.accepted.map(eventId), ids.filter((id) => !bad.has(id)));
      assert.ok(!r.stderr.includes('backfill-sink-token-0123456789'));
    } finally {
      env = saved;
      await receiver.close();
    }
  });
});
