// o365-relay doctor end to end: the real CLI process against the simulator (real @azure/identity sign-in over
// TLS), in-process Azurite, a loopback webhook, a loopback https-json receiver and a syslog TCP listener. A
// healthy setup passes every check; each broken piece shows its own fail line and exit code 1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startAzurite, DEV_ACCOUNT_KEY, type RunningAzurite } from '../dev/azurite';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import { repoRoot } from './support/fixtures';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const noPermissionTenant = '9b0c2f61-7d3e-4a58-8e1f-2c6d4b7a9e03';
const unsubscribedTenant = '5d8e7f60-1a2b-4c3d-9e4f-a0b1c2d3e4f5';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'doctor-test-secret-8c2e4a6f1b';
const authId = 'doctor-webhook-auth-id-3f9d71c2';
const siemToken = 'doctor-siem-token-7e5a1d9c0b';
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
const secrets = [clientSecret, authId, siemToken, DEV_ACCOUNT_KEY];

let sim: Simulator;
let azurite: RunningAzurite;
let webhook: http.Server;
let receiver: http.Server;
let syslog: net.Server;
let webhookAnswers = 200;
const received: string[] = [];
let env: NodeJS.ProcessEnv;

const listen = async <S extends net.Server>(server: S): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
};

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Asynchronous on purpose: Azurite, the simulator and the receivers run in this process.
function run(args: string[], overrides: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...env, ...overrides }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertNoSecret(r: { stdout: string; stderr: string }): void {
  for (const secret of secrets) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'a secret reached the output');
}

const line = (stdout: string, pattern: RegExp) => stdout.split('\n').find((l) => pattern.test(l));

// The Function App's identities for the federated sign-in checks: one the app registration trusts (with the US
// Government audience, so the Enterprise app presents the wrong one) and one it does not.
const identity = { clientId: '5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', principalId: 'a7d388c3-5e3f-4959-ac7d-786b3383006a' };
const untrusted = { clientId: '6b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e', principalId: '0f1e2d3c-4b5a-4968-8776-655443322110' };

before(async () => {
  const app: { clientId: string; clientSecret: string; federatedCredentials?: Array<{ issuer: string; subject: string; audiences: string[] }> } = { clientId, clientSecret };
  sim = await startSimulator({
    managedIdentities: [{ tenantId, ...identity }, { tenantId, ...untrusted }, { tenantId, principalId: '11112222-3333-4444-9555-666677778888' }],
    tenants: [
      { tenantId, apps: [app] },
      { tenantId: noPermissionTenant, apps: [app], permissions: ['ActivityFeed.ReadDlp'] },
      { tenantId: unsubscribedTenant, apps: [app] },
    ],
    startSpacingMinutes: 0,
  });
  // The issuer names the simulator's address, known once it listens; the simulator reads the app at each request.
  app.federatedCredentials = [{ issuer: sim.identityIssuer(tenantId), subject: identity.principalId, audiences: ['api://AzureADTokenExchangeUSGov'] }];
  azurite = await startAzurite();
  webhook = http.createServer((req, res) => {
    req.resume();
    res.writeHead(req.headers['webhook-authid'] === authId ? webhookAnswers : 401).end();
  });
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') received.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
      res.writeHead(200).end();
    });
  });
  syslog = net.createServer((socket) => socket.resume());
  const webhookUrl = `http://127.0.0.1:${await listen(webhook)}/api/notifications`;
  const receiverUrl = `http://127.0.0.1:${await listen(receiver)}/ingest`;
  const syslogPort = await listen(syslog);
  env = {
    PATH: process.env.PATH,
    ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
    O365_CONTENT_TYPES: 'Audit.Exchange,DLP.All',
    O365_WEBHOOK_URL: webhookUrl,
    O365_WEBHOOK_AUTH_ID: authId,
    AzureWebJobsStorage: azurite.connectionString,
    SIEM_TOKEN: siemToken,
    O365_SINKS: JSON.stringify([
      { kind: 'blob', name: 'archive', container: 'doctor-archive' },
      { kind: 'https-json', name: 'siem', url: receiverUrl, tokenSetting: 'SIEM_TOKEN' },
      { kind: 'syslog', name: 'syslog', host: '127.0.0.1', port: syslogPort },
    ]),
  };
  const started = await run(['subscriptions', 'start', '--webhook', webhookUrl, '--auth-id', authId]);
  assert.equal(started.code, 0, started.stderr);
});

after(async () => {
  await sim.close();
  await azurite.close();
  webhook.closeAllConnections();
  receiver.closeAllConnections();
  for (const server of [webhook, receiver, syslog]) await new Promise((resolve) => server.close(resolve));
});

describe('o365-relay doctor', () => {
  it('passes every check on a healthy setup, reads the roles from the token and delivers nothing', async () => {
    const r = await run(['doctor']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^(fail|skip)/m);
    for (const name of ['settings', `sign-in ${tenantId}`, `roles ${tenantId}`, `audit log ${tenantId}`, `subscriptions ${tenantId}`, 'webhook', 'storage', 'sink archive', 'sink siem', 'sink syslog']) {
      assert.match(line(r.stdout, new RegExp(`^pass\\s+${name.replace('.', '\\.')}\\s`)) ?? '', /./, `${name} passes`);
    }
    assert.match(r.stdout, /token roles include ActivityFeed\.Read, ActivityFeed\.ReadDlp \(read from the token, signature not verified\)/);
    assert.match(r.stdout, /loopback is expected in local simulator mode/);
    assert.match(r.stdout, /all \d+ checks passed/);
    assert.deepEqual(received, [], 'the connection check delivers no event');
    assertNoSecret(r);
  });

  it('--send-test-event delivers one synthetic record to each sink', async () => {
    const r = await run(['doctor', '--send-test-event']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^pass\s+test event siem\s/m);
    assert.equal(received.length, 1);
    assert.match(received[0]!, /O365RelayDoctorTestEvent/);
    received.length = 0;
    assertNoSecret(r);
  });

  it('names each bad setting and skips the rest', async () => {
    const r = await run(['doctor'], { O365_TENANT_ID: 'contoso.com' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^fail\s+settings\s+O365_TENANT_ID: /m);
    assert.match(r.stdout, /^skip\s+storage\s/m);
    assertNoSecret(r);
  });

  it('fails the settings check on a filter naming an unknown RecordType, app-wide or in a sink', async () => {
    const app = await run(['doctor'], { O365_FILTER: '{"exclude": {"recordTypes": ["ExchangeItem", "ExchangeItemz"]}}' });
    assert.equal(app.code, 1);
    assert.match(app.stdout, /^fail\s+settings\s+O365_FILTER: exclude\.recordTypes\[1\]: unknown RecordType "ExchangeItemz"/m);
    assert.doesNotMatch(app.stdout, /all settings valid/);
  });

  it('a missing ActivityFeed.Read: the roles line and the audit log line (AF10001) fail', async () => {
    const r = await run(['doctor'], { O365_TENANT_ID: noPermissionTenant });
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^fail\\s+roles ${noPermissionTenant}\\s+token lacks ActivityFeed\\.Read\\b`, 'm'));
    assert.match(r.stdout, new RegExp(`^fail\\s+audit log ${noPermissionTenant}\\s+AF10001: missing permission ActivityFeed\\.Read or admin consent`, 'm'));
    assert.match(r.stdout, /fix: grant the app the application permission ActivityFeed\.Read/);
    assert.match(r.stdout, new RegExp(`^skip\\s+subscriptions ${noPermissionTenant}`, 'm'));
    assertNoSecret(r);
  });

  it('a wrong client secret: sign-in fails, the API checks are skipped, the secret is not shown', async () => {
    const wrong = 'wrong-doctor-secret-0a1b2c3d4e';
    const r = await run(['doctor'], { O365_CLIENT_SECRET: wrong });
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^fail\\s+sign-in ${tenantId}\\s+SIGN_IN_FAILED`, 'm'));
    assert.match(r.stdout, /AADSTS7000215/);
    assert.match(r.stdout, new RegExp(`^skip\\s+audit log ${tenantId}`, 'm'));
    assert.ok(!r.stdout.includes(wrong) && !r.stderr.includes(wrong));
    assertNoSecret(r);
  });

  describe('federated sign-in (O365_FEDERATED_IDENTITY_CLIENT_ID)', () => {
    const federated = (identityClientId: string) => ({
      O365_CLIENT_SECRET: undefined,
      O365_FEDERATED_IDENTITY_CLIENT_ID: identityClientId,
      IDENTITY_ENDPOINT: sim.identity!.endpoint,
      IDENTITY_HEADER: sim.identity!.header,
    });

    it('a federated credential with another audience: the sign-in line names the audience to set', async () => {
      const r = await run(['doctor'], federated(identity.clientId));
      assert.equal(r.code, 1);
      const signIn = line(r.stdout, new RegExp(`sign-in ${tenantId}`));
      assert.match(signIn ?? '', /^fail\s+sign-in \S+\s+FEDERATED_AUDIENCE_MISMATCH.*AADSTS700212.*audience is 'api:\/\/AzureADTokenExchange'/);
      assert.match(r.stdout, /api:\/\/AzureADTokenExchange for Enterprise and GCC, api:\/\/AzureADTokenExchangeUSGov for GCCHigh and DoD/);
      assert.match(r.stdout, new RegExp(`^skip\\s+audit log ${tenantId}`, 'm'));
      assertNoSecret(r);
    });

    it('an identity the app does not trust, or none the app has (the system-assigned one): explained, with the fix', async () => {
      const other = await run(['doctor'], federated(untrusted.clientId));
      assert.equal(other.code, 1);
      assert.match(line(other.stdout, new RegExp(`sign-in ${tenantId}`)) ?? '', new RegExp(`FEDERATED_SUBJECT_MISMATCH.*AADSTS700213.*'${untrusted.principalId}'`));
      assert.match(other.stdout, /a system-assigned identity cannot be trusted this way/);

      const none = await run(['doctor'], federated('99990000-1111-4222-8333-444455556666'));
      assert.equal(none.code, 1);
      assert.match(line(none.stdout, new RegExp(`sign-in ${tenantId}`)) ?? '', /MANAGED_IDENTITY_UNAVAILABLE.*Unable to load the proper Managed Identity/);
      assert.match(none.stdout, /client id of a user-assigned identity assigned to the Function App/);
      assertNoSecret(none);
    });
  });

  it('--tenant checks only the tenants named; the default is every tenant; an unknown one is a usage error', async () => {
    const both = { O365_TENANT_ID: `${tenantId},${unsubscribedTenant}` };
    const one = await run(['doctor', '--tenant', tenantId.toUpperCase()], both);
    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.match(one.stdout, new RegExp(`^pass\\s+subscriptions ${tenantId}`, 'm'));
    assert.doesNotMatch(one.stdout, new RegExp(unsubscribedTenant), 'the other tenant is not checked');
    const all = await run(['doctor'], both);
    assert.equal(all.code, 1);
    assert.match(all.stdout, new RegExp(`^pass\\s+subscriptions ${tenantId}`, 'm'));
    assert.match(all.stdout, new RegExp(`^fail\\s+subscriptions ${unsubscribedTenant}`, 'm'));
    const other = await run(['doctor', '--tenant', tenantId, '--tenant', unsubscribedTenant], both);
    assert.equal(other.code, 1);
    assert.match(other.stdout, new RegExp(`^fail\\s+subscriptions ${unsubscribedTenant}`, 'm'));
    const unknown = await run(['doctor', '--tenant', noPermissionTenant], both);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, new RegExp(`--tenant ${noPermissionTenant}: not one of the followed tenants`));
    assert.equal(unknown.stdout, '', 'no check ran');
  });

  it('a missing subscription fails the subscriptions line with the start command as fix', async () => {
    const r = await run(['doctor'], { O365_TENANT_ID: unsubscribedTenant });
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^fail\\s+subscriptions ${unsubscribedTenant}\\s+Audit\\.Exchange: no subscription; DLP\\.All: no subscription`, 'm'));
    assert.match(r.stdout, /fix: o365-relay subscriptions start --tenant/);
    assert.match(r.stdout, new RegExp(`^pass\\s+audit log ${unsubscribedTenant}`, 'm'));
    assertNoSecret(r);
  });

  it('a disabled subscription fails the subscriptions line', async () => {
    sim.disableSubscription(tenantId, 'DLP.All');
    try {
      const r = await run(['doctor']);
      assert.equal(r.code, 1);
      assert.match(r.stdout, new RegExp(`^fail\\s+subscriptions ${tenantId}\\s+DLP\\.All: subscription disabled`, 'm'));
    } finally {
      const restarted = await run(['subscriptions', 'start', '--content-type', 'DLP.All', '--webhook', env.O365_WEBHOOK_URL!, '--auth-id', authId]);
      assert.equal(restarted.code, 0, restarted.stderr);
    }
  });

  it('a webhook that does not answer 200 fails the webhook line', async () => {
    webhookAnswers = 503;
    try {
      const r = await run(['doctor']);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /^fail\s+webhook\s+http:\/\/127\.0\.0\.1:\d+\/api\/notifications did not answer the validation POST with 200/m);
      assert.match(r.stdout, /^pass\s+storage/m);
      assertNoSecret(r);
    } finally {
      webhookAnswers = 200;
    }
  });

  it('a webhook on a private address fails, even in simulator mode (only loopback is expected there)', async () => {
    const r = await run(['doctor'], { O365_WEBHOOK_URL: 'https://10.1.2.3/api/notifications' });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^fail\s+webhook\s+10\.1\.2\.3 resolves to a private address the API cannot reach/m);
  });

  it('unreachable storage fails the storage line and skips the blob sink', async () => {
    const port = await closedPort();
    const dead = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:${port}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const r = await run(['doctor'], { AzureWebJobsStorage: dead });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^fail\s+storage\s+not reachable: queue \(\w+\), table \(\w+\), blob \(\w+\)/m);
    assert.match(r.stdout, /^skip\s+sink archive/m);
    assertNoSecret(r);
  });

  it('an unreachable sink fails its own line only', async () => {
    const port = await closedPort();
    const sinks = JSON.parse(env.O365_SINKS!) as Array<Record<string, unknown>>;
    const r = await run(['doctor'], { O365_SINKS: JSON.stringify(sinks.map((s) => (s.kind === 'syslog' ? { ...s, port } : s))) });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^fail\s+sink syslog\s+syslog: not reachable \(ECONNREFUSED\)/m);
    assert.match(r.stdout, /^pass\s+sink siem/m);
    assert.equal(r.stdout.match(/^fail/gm)?.length, 1);
    assertNoSecret(r);
  });
});
