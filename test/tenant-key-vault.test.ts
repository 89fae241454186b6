// Key Vault references inside the running app, through the local stack: the bundle in the dev host, Azurite, the
// simulator, a fake Key Vault (O365_KEYVAULT_URL_OVERRIDE, trusted through O365_CA_FILE) and an HTTPS JSON
// collector that checks each batch's Authorization header. A tenant onboarded with `tenants add` while the app
// runs has its webhook authId and its SIEM token as Key Vault URIs: its notifications are accepted with its
// authId, its records carry ITS token while the settings tenant's carry the sink's own, and after the secret is
// rotated (and the short TTL passes) the new token is used without a restart. A tenant whose token reference
// cannot be read costs only its own blobs. No secret value reaches the app's logs or the CLI's output.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/log';
import { demoClientId, demoTenantId, startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';
import type { PublishedContent } from '../dev/simulator';
import { startFakeKeyVault, tokenClaims, type FakeKeyVault } from './support/fake-key-vault';
import { SecretScan } from './support/secret-scan';
import { startReceiver, type Receiver } from './support/siem-receiver';
import { repoRoot } from './support/fixtures';

const tenantB = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const tenantC = '9b2f7c1e-55aa-4d3e-8c21-6f0e1d2c3b4a';
const clientSecret = randomBytes(24).toString('base64url');
const ownToken = randomBytes(24).toString('base64url');
const authIdB = randomBytes(24).toString('base64url');
const firstTokenB = randomBytes(24).toString('base64url');
const rotatedTokenB = randomBytes(24).toString('base64url');
const kv = (name: string) => `https://relay-kv.vault.azure.net/secrets/${name}`;
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

let pki: ServerPki;
let vault: FakeKeyVault;
let collector: Receiver;
let stack: LocalStack;
let seed = 900;
const appLog: string[] = [];
const cliOutput: string[] = [];
const realStderrWrite = process.stderr.write.bind(process.stderr);

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...stack.settings }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      cliOutput.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = async () => {
  await stack.simulator.flushNotifications();
  await stack.host.idle({ timeoutMs: 30_000 });
};
interface Published {
  content: PublishedContent;
  ids: Set<string>;
}
async function publish(tenantId: string, count: number): Promise<Published> {
  const records = [...generateRecords(count, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: tenantId }));
  return { content: await stack.simulator.publish(tenantId, 'Audit.General', records), ids: new Set(records.map((r) => String((r as { Id?: unknown }).Id))) };
}
/** The Authorization headers of the accepted batches that carried this blob's records, and how many records came. */
function arrivals(published: Published): { auth: Set<string>; records: number } {
  const auth = new Set<string>();
  let records = 0;
  for (const r of collector.requests) {
    const mine = r.events.filter((e) => published.ids.has(String((e as { id?: unknown }).id)));
    if (mine.length === 0 || r.outcome !== 'accepted') continue;
    auth.add(String(r.headers.authorization));
    records += mine.length;
  }
  return { auth, records };
}
/** A blob that waits (C's) keeps the queue non-empty, so the host is never idle again: poll for the outcome. */
async function until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await pause(50);
  }
}
async function notify(content: PublishedContent, tenantId: string, authId: string): Promise<{ accepted?: number; rejected?: Record<string, number> }> {
  const item = { tenantId, clientId: demoClientId, contentType: content.contentType, contentId: content.contentId, contentUri: content.contentUri, contentCreated: content.contentCreated, contentExpiration: content.contentExpiration };
  const answer = await fetch(`${stack.host.url}/api/notifications`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Webhook-AuthID': authId }, body: JSON.stringify([item]) });
  assert.equal(answer.status, 200);
  return (await answer.json()) as { accepted?: number; rejected?: Record<string, number> };
}

before(async () => {
  pki = await createServerPki();
  // The vault takes only tokens the simulator issued to the app for Key Vault's audience.
  vault = await startFakeKeyVault({ pki, authorized: (auth) => tokenClaims(auth)?.aud === 'https://vault.azure.net' && tokenClaims(auth)?.appid === demoClientId });
  vault.secrets.set('tenant-b-authid', authIdB);
  vault.secrets.set('tenant-b-siem', firstTokenB);
  // Every token a customer was ever given is accepted, so which one each batch carried is what the test reads.
  collector = await startReceiver({ protocol: 'json', tokens: () => [ownToken, firstTokenB, rotatedTokenB] });
  process.stderr.write = ((chunk: string | Uint8Array) => (appLog.push(String(chunk)), true)) as typeof process.stderr.write;
  const apps = [{ clientId: demoClientId, clientSecret }];
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    overrides: {
      O365_CLIENT_SECRET: clientSecret,
      O365_CONTENT_TYPES: 'Audit.General',
      O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
      O365_TENANT_CACHE_SECONDS: '1',
      O365_SECRET_CACHE_SECONDS: '1',
      O365_LOG_LEVEL: 'warn',
      O365_KEYVAULT_URL_OVERRIDE: vault.origin,
      SIEM_TOKEN: ownToken,
      O365_SINKS: JSON.stringify([{ kind: 'https-json', name: 'siem', url: `${collector.url}/ingest`, tokenSetting: 'SIEM_TOKEN', gzip: false, maxAttempts: 1 }]),
    },
    simulator: { pki, tenants: [{ tenantId: demoTenantId, apps }, { tenantId: tenantB, apps }, { tenantId: tenantC, apps }], random: seededRandom(23), notifyRetryDelaysMs: [200, 400] },
    logger: createLogger({ level: 'error', write: (line) => void appLog.push(line) }),
  });
});

after(async () => {
  process.stderr.write = realStderrWrite;
  await stack?.close();
  await collector?.close();
  await vault?.close();
  await pki?.remove();
});

describe('Key Vault references in the running app', () => {
  it('onboards a tenant whose authId and SIEM token are Key Vault URIs, and one whose token reference cannot be read', async () => {
    const b = await run(['tenants', 'add', '--tenant', tenantB, '--name', 'Contoso', '--content-type', 'Audit.General', '--auth-id-ref', kv('tenant-b-authid'), '--sink-token', `siem=${kv('tenant-b-siem')}`]);
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const c = await run(['tenants', 'add', '--tenant', tenantC, '--name', 'Odd', '--content-type', 'Audit.General', '--sink-token', `siem=${kv('tenant-c-missing')}`]);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    const shown = await run(['tenants', 'show', '--tenant', tenantB]);
    assert.match(shown.stdout, /"siem": "https:\/\/relay-kv\.vault\.azure\.net\/secrets\/tenant-b-siem"/, 'show prints the references');
    const refused = await run(['tenants', 'add', '--tenant', '11111111-2222-3333-4444-555555555555', '--name', 'X', '--sink-token', `siem=${firstTokenB}`]);
    assert.equal(refused.code, 1, 'a token given instead of a reference is refused');
    assert.match(refused.stderr, /never the token itself/);
    assert.ok(!refused.stderr.includes(firstTokenB), 'and not echoed');
    await pause(1_200); // O365_TENANT_CACHE_SECONDS=1
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 });
    for (const t of [demoTenantId, tenantB, tenantC]) assert.equal(stack.simulator.subscriptions(t)[0]?.status, 'enabled', t);
  });

  it('accepts the tenant\'s notifications with its own authId from the vault (good for it only)', async () => {
    const published = await publish(tenantB, 1);
    await settle(); // the simulator's own notification first: a second one racing it would wait for the claim
    assert.deepEqual(await notify(published.content, tenantB, authIdB), { accepted: 1, rejected: {} });
    const other = await publish(demoTenantId, 1);
    assert.deepEqual(await notify(other.content, demoTenantId, authIdB), { accepted: 0, rejected: { 'authId-tenant': 1 } });
    await settle();
    const vaultRead = vault.requests.find((r) => r.path === '/secrets/tenant-b-authid');
    assert.equal(vaultRead?.status, 200, 'read from the fake vault with the app\'s token for Key Vault');
    assert.equal(tokenClaims(vaultRead?.authorization)?.tid, demoTenantId, 'in the app\'s home tenant');
  });

  it('delivers its records with ITS token and the settings tenant\'s with the sink\'s own; the tenant whose token cannot be read costs only its own blob', async () => {
    const forB = await publish(tenantB, 4);
    const forC = await publish(tenantC, 3);
    const forDemo = await publish(demoTenantId, 5);
    await stack.simulator.flushNotifications();
    await until('B\'s and the settings tenant\'s records', () => arrivals(forB).records === 4 && arrivals(forDemo).records === 5);
    await until('C\'s blob to wait', () => /content delivery will be retried later[^\n]*9b2f7c1e/.test(appLog.join('')));
    assert.deepEqual(arrivals(forB), { auth: new Set([`Bearer ${firstTokenB}`]), records: 4 });
    assert.deepEqual(arrivals(forDemo), { auth: new Set([`Bearer ${ownToken}`]), records: 5 });
    assert.deepEqual(arrivals(forC), { auth: new Set(), records: 0 }, 'nothing of C was sent, with any token');
    assert.ok(vault.requests.some((r) => r.path === '/secrets/tenant-c-missing' && r.status === 404));
    const unresolved = appLog.join('').split('\n').filter((l) => l.includes('sink token not resolved'));
    assert.equal(unresolved.length, 1, 'logged once');
    assert.match(unresolved[0]!, /secrets\/tenant-c-missing/);
  });

  it('uses the rotated secret after the TTL, without a restart', async () => {
    vault.secrets.set('tenant-b-siem', rotatedTokenB);
    await pause(1_200); // O365_SECRET_CACHE_SECONDS=1
    const published = await publish(tenantB, 3);
    await stack.simulator.flushNotifications();
    await until('B\'s new records', () => arrivals(published).records === 3);
    assert.deepEqual(arrivals(published), { auth: new Set([`Bearer ${rotatedTokenB}`]), records: 3 });
  });

  it('no secret value is in the app\'s logs or the CLI\'s output', () => {
    const scan = new SecretScan({ 'tenant B authId': authIdB, 'tenant B token': firstTokenB, 'rotated token': rotatedTokenB, 'sink token': ownToken, 'client secret': clientSecret });
    scan.scan({ source: 'app log', text: appLog.join('') });
    scan.scan({ source: 'cli', text: cliOutput.join('') });
    assert.deepEqual(scan.hits, []);
  });
});
