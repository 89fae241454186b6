// Tenants through the local stack (the bundle in the dev host, Azurite, a simulator hosting two tenants): one in
// O365_TENANT_ID, one onboarded with `o365-relay tenants add` while the app runs. Its content flows without a
// restart; pause refuses its notifications and stops planning it; resume lets them through again; remove stops
// its subscriptions and refuses its notifications. An odd registry row costs only itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/log';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTenantRegistry, defaultTenantTable, type TenantRegistry } from '../shared/state/tenant-registry';
import { demoClientId, demoTenantId, startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords, seededRandom } from '../dev/record-generator';
import type { PublishedContent } from '../dev/simulator';
import { repoRoot } from './support/fixtures';
import { expectedSinkBlobName, sinkRecordIds } from './support/relay-observations';

const newTenant = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const oddTenant = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
const clientSecret = randomBytes(24).toString('base64url');
/** The new tenant's own webhook authId, bound through its row by reference (the setting's name). */
const tenantAuthId = randomBytes(24).toString('base64url');
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

let stack: LocalStack;
let registry: TenantRegistry;
let seed = 500;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...stack.settings }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
const viewTtl = () => new Promise((resolve) => setTimeout(resolve, 1_200)); // O365_TENANT_CACHE_SECONDS=1
const settle = async () => {
  await stack.simulator.flushNotifications();
  await stack.host.idle({ timeoutMs: 30_000 });
};
async function keep(): Promise<void> {
  await stack.host.fireTimer('subscriptionKeeper');
  await stack.host.idle({ timeoutMs: 30_000 });
}
const publish = (tenantId: string, count: number) =>
  stack.simulator.publish(tenantId, 'Audit.General', [...generateRecords(count, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: tenantId })));
const delivered = (tenantId: string, content: PublishedContent) => sinkRecordIds(stack.blobs, expectedSinkBlobName(tenantId, content));
/** The webhook's answer to one notification item, as the API would send it. */
async function notify(content: PublishedContent, tenantId: string, authId = stack.settings.O365_WEBHOOK_AUTH_ID!): Promise<{ accepted?: number; rejected?: Record<string, number> }> {
  const item = { tenantId, clientId: demoClientId, contentType: content.contentType, contentId: content.contentId, contentUri: content.contentUri, contentCreated: content.contentCreated, contentExpiration: content.contentExpiration };
  const answer = await fetch(`${stack.host.url}/api/notifications`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Webhook-AuthID': authId },
    body: JSON.stringify([item]),
  });
  assert.equal(answer.status, 200);
  return (await answer.json()) as { accepted?: number; rejected?: Record<string, number> };
}
const listingsOf = (tenantId: string) => stack.simulator.journal.filter((e) => e.direction === 'in' && e.path.includes(`/${tenantId}/activity/feed/subscriptions/content`)).length;

before(async () => {
  const apps = [{ clientId: demoClientId, clientSecret }];
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    overrides: { O365_CLIENT_SECRET: clientSecret, O365_CONTENT_TYPES: 'Audit.General', O365_BLOB_FORMAT: 'json', O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', O365_TENANT_CACHE_SECONDS: '1', O365_LOG_LEVEL: 'error', TENANT_B_AUTH_ID: tenantAuthId },
    simulator: { tenants: [{ tenantId: demoTenantId, apps }, { tenantId: newTenant, apps }], random: seededRandom(11), notifyRetryDelaysMs: [200, 400] },
    logger: createLogger({ level: 'error' }),
  });
  registry = createTenantRegistry(createStorageAccount({ kind: 'connectionString', connectionString: stack.azurite.connectionString }).table(defaultTenantTable));
});

after(async () => {
  await stack?.close();
});

describe('tenants onboarded, paused, resumed and removed while the app runs', () => {
  it('follows the settings tenant only before anything is added (no registry table yet)', async () => {
    await keep();
    assert.equal(stack.simulator.subscriptions(demoTenantId)[0]?.status, 'enabled');
    assert.deepEqual(stack.simulator.subscriptions(newTenant), []);
    const content = await publish(newTenant, 2);
    assert.deepEqual(await notify(content, newTenant), { accepted: 0, rejected: { tenant: 1 } });
  });

  it('refuses to add a tenant the settings already follow, naming both places', async () => {
    const r = await run(['tenants', 'add', '--tenant', demoTenantId, '--name', 'Demo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already followed through O365_TENANT_ID; a tenant lives in the settings or in table relaytenants, not both/);
  });

  it('onboards a tenant (sign-in and audit log checked, then active) and its content flows without a restart; an odd row costs only itself', async () => {
    // A hand-edited row with an unknown state, among good ones: ignored (logged), the others followed.
    const tables = createStorageAccount({ kind: 'connectionString', connectionString: stack.azurite.connectionString }).table(defaultTenantTable);
    await tables.createTable();
    await tables.createEntity({ partitionKey: 'tenant', rowKey: oddTenant, state: 'half-onboarded', contentTypes: '[not json' });

    const r = await run(['tenants', 'add', '--tenant', newTenant, '--name', 'Fabrikam', '--content-type', 'Audit.General', '--auth-id-ref', 'TENANT_B_AUTH_ID']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /pass\s+sign-in 7c9e6679/);
    assert.match(r.stdout, /pass\s+audit log 7c9e6679/);
    assert.match(r.stdout, /7c9e6679-7425-40de-944b-e07fc1f90ae7 active/);
    assert.equal((await registry.get(newTenant))?.state, 'active');
    const listed = await run(['tenants', 'list']);
    assert.equal(listed.code, 2, 'the odd row is reported');
    assert.match(listed.stderr, /0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6: not a valid row, ignored by the app/);
    assert.match(listed.stdout, /7c9e6679-7425-40de-944b-e07fc1f90ae7 active Audit.General "Fabrikam"/);

    await viewTtl();
    await keep(); // one keeper run starts the new tenant's subscriptions
    const subscriptions = stack.simulator.subscriptions(newTenant);
    assert.deepEqual(subscriptions.map((s) => [s.contentType, s.status, s.webhook?.address]), [['Audit.General', 'enabled', stack.settings.O365_WEBHOOK_URL]]);
    const content = await publish(newTenant, 5);
    await settle();
    assert.equal((await delivered(newTenant, content))?.length, 5, 'the new tenant\'s records reached the sink');
    const health = (await (await fetch(`${stack.host.url}/api/health`)).json()) as { streams: Array<{ tenantId: string; contentType: string }> };
    assert.deepEqual(health.streams.map((s) => s.tenantId).sort(), [demoTenantId, newTenant].sort(), 'health reports the onboarded tenant too');
    // Its own authId, read through the reference at run time: good for its notifications only.
    assert.deepEqual(await notify(content, newTenant, tenantAuthId), { accepted: 1, rejected: {} });
    const other = await publish(demoTenantId, 1);
    assert.deepEqual(await notify(other, demoTenantId, tenantAuthId), { accepted: 0, rejected: { 'authId-tenant': 1 } });
    assert.ok(!(await run(['tenants', 'show', '--tenant', newTenant])).stdout.includes(tenantAuthId), 'show prints the reference, never the authId');
  });

  it('pause: its notifications are refused as tenant and its streams are not planned; resume lets the same content through', async () => {
    const paused = await run(['tenants', 'pause', '--tenant', newTenant]);
    assert.equal(paused.code, 0, paused.stderr);
    await viewTtl();
    const content = await publish(newTenant, 3);
    await settle();
    assert.deepEqual(await notify(content, newTenant), { accepted: 0, rejected: { tenant: 1 } });
    assert.equal(await delivered(newTenant, content), undefined);
    const before = listingsOf(newTenant);
    await stack.host.fireTimer('reconciler');
    await stack.host.idle({ timeoutMs: 30_000 });
    assert.equal(listingsOf(newTenant), before, 'a paused tenant is not reconciled');
    const health = (await (await fetch(`${stack.host.url}/api/health`)).json()) as { streams: Array<{ tenantId: string }> };
    assert.deepEqual(health.streams.map((s) => s.tenantId), [demoTenantId], 'nor reported by health');
    assert.ok(listingsOf(demoTenantId) > 0, 'the settings tenant still is');

    const resumed = await run(['tenants', 'resume', '--tenant', newTenant]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((await run(['tenants', 'resume', '--tenant', newTenant])).code, 1, 'resume of an active tenant is refused');
    await viewTtl();
    assert.deepEqual(await notify(content, newTenant), { accepted: 1, rejected: {} });
    await settle();
    assert.equal((await delivered(newTenant, content))?.length, 3);
  });

  it('remove: its subscriptions stop, its notifications are refused, the keeper does not start it again', async () => {
    const removed = await run(['tenants', 'remove', '--tenant', newTenant]);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.match(removed.stdout, /Audit.General stopped/);
    assert.deepEqual(stack.simulator.subscriptions(newTenant).map((s) => s.status), ['disabled']);
    await viewTtl();
    const content = await publish(newTenant, 2);
    assert.deepEqual(await notify(content, newTenant), { accepted: 0, rejected: { tenant: 1 } });
    await keep();
    assert.deepEqual(stack.simulator.subscriptions(newTenant).map((s) => s.status), ['disabled']);
    assert.equal((await registry.get(newTenant))?.state, 'removed');
    const again = await run(['tenants', 'add', '--tenant', newTenant, '--name', 'Fabrikam']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already in table relaytenants \(removed\)/);
  });

  it('prints the admin-consent link on the cloud\'s sign-in host', async () => {
    const r = await run(['tenants', 'consent-url', '--tenant', newTenant]);
    assert.equal(r.code, 0);
    const url = new URL(r.stdout.trim());
    assert.equal(`${url.origin}${url.pathname}`, `https://login.microsoftonline.com/${newTenant}/adminconsent`);
    assert.equal(url.searchParams.get('client_id'), demoClientId);
    assert.equal(url.searchParams.get('redirect_uri'), 'https://login.microsoftonline.com/common/oauth2/nativeclient');
  });
});
