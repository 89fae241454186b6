// Secretless sign-in against the simulator with the real @azure/identity credentials: the app registration trusts
// the Function App's user-assigned managed identity (a federated identity credential), the app asks the managed
// identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER, as App Service provides it) for a token with the audience
// api://AzureADTokenExchange and presents it as the client assertion in each customer tenant. The simulator checks
// issuer, subject and audience exactly. Also the certificate kept as PEM text (a Key Vault reference in Azure).
// MSAL keeps the managed identity source per process: the endpoint is set once, before the first credential.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClientFromSettings } from '../shared/api/from-settings';
import { ApiConfigurationError } from '../shared/api/errors';
import { parseSettings, ConfigError, type Env } from '../shared/config';
import { createClientCertificate, startSimulator, type Simulator } from '../dev/simulator';
import { generateRecords } from '../dev/record-generator';

const tenantA = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66'; // the app's and the identity's home tenant
const tenantB = 'b9c0c1d2-1111-4222-8333-444455556666'; // a customer tenant that consented to the app
const tenantC = 'c1d2e3f4-1111-4222-8333-444455556666'; // a customer whose app copy expects the US Government audience
const appId = '676e8273-3c93-4205-910f-614bb4396a55';
const certAppId = '7d0c9a52-9c3e-4d7e-9a55-0f6d1c2b3a41';
const identity = { clientId: '5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', principalId: 'a7d388c3-5e3f-4959-ac7d-786b3383006a' };
const untrusted = { clientId: '6b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e', principalId: '0f1e2d3c-4b5a-4968-8776-655443322110' };
const systemAssignedPrincipal = '11112222-3333-4444-9555-666677778888';

let sim: Simulator;
let certificatePem: string;
const saved = { endpoint: process.env['IDENTITY_ENDPOINT'], header: process.env['IDENTITY_HEADER'] };

before(async () => {
  const certificate = await createClientCertificate('o365 relay PEM setting test');
  certificatePem = certificate.combinedPem;
  // Started twice: the federated credentials name the simulator's issuer URL, known only once it listens.
  const trust = (issuer: string, audience = 'api://AzureADTokenExchange') => [{ issuer, subject: identity.principalId, audiences: [audience] }];
  const tenants = (issuer: string) => [
    { tenantId: tenantA, apps: [{ clientId: appId, federatedCredentials: trust(issuer) }, { clientId: certAppId, certificatePem: certificate.certificatePem }] },
    { tenantId: tenantB, apps: [{ clientId: appId, federatedCredentials: trust(issuer) }] },
    { tenantId: tenantC, apps: [{ clientId: appId, federatedCredentials: trust(issuer, 'api://AzureADTokenExchangeUSGov') }] },
  ];
  const managedIdentities = [
    { tenantId: tenantA, ...identity },
    { tenantId: tenantA, ...untrusted },
    { tenantId: tenantA, principalId: systemAssignedPrincipal },
  ];
  const probe = await startSimulator({ tenants: [] });
  const port = Number(new URL(probe.baseUrl).port);
  await probe.close();
  sim = await startSimulator({ port, tenants: tenants(`https://127.0.0.1:${port}/${tenantA}/v2.0`), managedIdentities });
  assert.equal(sim.identityIssuer(tenantA), `https://127.0.0.1:${port}/${tenantA}/v2.0`);
  process.env['IDENTITY_ENDPOINT'] = sim.identity!.endpoint;
  process.env['IDENTITY_HEADER'] = sim.identity!.header;
});

after(async () => {
  for (const [name, value] of [['IDENTITY_ENDPOINT', saved.endpoint], ['IDENTITY_HEADER', saved.header]] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await sim?.close();
});

const settingsFor = (extra: Env, tenants = `${tenantA},${tenantB}`) =>
  parseSettings({
    O365_TENANT_ID: tenants,
    O365_CLIENT_ID: appId,
    O365_API_BASE_URL: sim.baseUrl,
    O365_AUTHORITY_HOST: sim.authorityHost,
    O365_CA_FILE: sim.caCertPath,
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    ...extra,
  }).api;

async function listAndFetch(settings: ReturnType<typeof settingsFor>, tenantId: string): Promise<number> {
  const client = createClientFromSettings(settings);
  try {
    const feed = client.tenant(tenantId);
    await feed.startSubscription('Audit.Exchange');
    const records = [...generateRecords(3, { seed: 7 })].map((r) => ({ ...r, OrganizationId: tenantId }));
    const published = await sim.publish(tenantId, 'Audit.Exchange', records);
    const now = Date.now();
    const items = [];
    for await (const listed of feed.listContent('Audit.Exchange', { start: new Date(now - 3_600_000), end: new Date(now + 60_000) })) {
      if (listed.kind === 'item') items.push(listed.item);
    }
    const item = items.find((i) => i.contentId === published.contentId);
    assert.ok(item, 'the published blob is listed');
    const chunks: Uint8Array[] = [];
    for await (const chunk of await feed.fetchContentUri(item.contentUri)) chunks.push(chunk);
    return (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown[]).length;
  } finally {
    client.close();
  }
}

const tokenForms = (tenantId: string) =>
  sim.journal.filter((e) => e.direction === 'in' && e.tenantId === tenantId && /\/oauth2\/(v2\.0\/)?token$/.test(e.path)).map((e) => e.body as Record<string, string>);

describe('federated sign-in with the user-assigned managed identity', () => {
  it('lists content and fetches a blob in the home tenant and in a customer tenant, with no secret configured', async () => {
    const settings = settingsFor({ O365_FEDERATED_IDENTITY_CLIENT_ID: identity.clientId });
    assert.deepEqual(settings.credential, { kind: 'federatedIdentity', clientId: appId, identityClientId: identity.clientId });
    assert.equal(await listAndFetch(settings, tenantA), 3);
    assert.equal(await listAndFetch(settings, tenantB), 3);
    for (const tenantId of [tenantA, tenantB]) {
      const forms = tokenForms(tenantId);
      assert.ok(forms.length >= 1);
      for (const form of forms) {
        assert.equal(form['client_assertion_type'], 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        assert.equal(form['client_id'], appId);
        assert.equal(form['client_secret'], undefined);
      }
    }
    // The identity endpoint was asked as App Service is: the user-assigned identity, the token exchange audience.
    const asked = sim.identity!.requests.filter((r) => r.status === 200);
    assert.ok(asked.length >= 1);
    assert.ok(asked.every((r) => r.clientId === identity.clientId && r.resource === 'api://AzureADTokenExchange'));
  });

  it('refuses a token whose audience the app registration does not trust, and says which audience to set', async () => {
    const settings = settingsFor({ O365_FEDERATED_IDENTITY_CLIENT_ID: identity.clientId }, tenantC);
    const client = createClientFromSettings(settings);
    try {
      await assert.rejects(client.tenant(tenantC).listSubscriptions(), (e: unknown) => {
        assert.ok(e instanceof ApiConfigurationError, String(e));
        assert.equal(e.code, 'FEDERATED_AUDIENCE_MISMATCH');
        assert.equal(e.retryable, false);
        assert.match(e.message, /AADSTS700212/);
        assert.match(e.message, /audience is 'api:\/\/AzureADTokenExchange'/);
        assert.match(e.fix, /api:\/\/AzureADTokenExchangeUSGov for GCCHigh and DoD/);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('refuses an identity the app registration does not trust (another principal)', async () => {
    const settings = settingsFor({ O365_FEDERATED_IDENTITY_CLIENT_ID: untrusted.clientId }, tenantA);
    const client = createClientFromSettings(settings);
    try {
      await assert.rejects(client.tenant(tenantA).listSubscriptions(), (e: unknown) => {
        assert.ok(e instanceof ApiConfigurationError, String(e));
        assert.equal(e.code, 'FEDERATED_SUBJECT_MISMATCH');
        assert.match(e.message, new RegExp(`AADSTS700213.*'${untrusted.principalId}'`));
        assert.match(e.fix, /object \(principal\) id of the user-assigned identity.*system-assigned identity cannot be trusted/);
        return true;
      });
    } finally {
      client.close();
    }
  });

  it('refuses a client id that is no user-assigned identity of the app (e.g. the system-assigned one), naming the setting', async () => {
    const notAttached = '99990000-1111-4222-8333-444455556666';
    const settings = settingsFor({ O365_FEDERATED_IDENTITY_CLIENT_ID: notAttached }, tenantA);
    const client = createClientFromSettings(settings);
    try {
      await assert.rejects(client.tenant(tenantA).listSubscriptions(), (e: unknown) => {
        assert.ok(e instanceof ApiConfigurationError, String(e));
        assert.equal(e.code, 'MANAGED_IDENTITY_UNAVAILABLE');
        assert.equal(e.retryable, false);
        assert.match(e.message, /O365_FEDERATED_IDENTITY_CLIENT_ID/);
        assert.match(e.fix, /user-assigned identity assigned to the Function App/);
        return true;
      });
    } finally {
      client.close();
    }
    assert.ok(sim.identity!.requests.some((r) => r.clientId === notAttached && r.status === 400));
  });

  it('the simulator refuses the system-assigned identity\'s token: its principal is not a federated credential\'s subject', async () => {
    const answer = await fetch(`${sim.identity!.endpoint}?api-version=2019-08-01&resource=${encodeURIComponent('api://AzureADTokenExchange')}`, {
      headers: { 'X-IDENTITY-HEADER': sim.identity!.header },
    });
    assert.equal(answer.status, 200);
    const { access_token: assertion } = (await answer.json()) as { access_token: string };
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: appId,
      scope: 'https://manage.office.com/.default',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    const { request } = await import('node:https');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(`${sim.authorityHost}/${tenantA}/oauth2/v2.0/token`, { method: 'POST', ca: sim.caCertPem, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.on('error', reject);
      req.end(form.toString());
    });
    const answerBody = JSON.parse(body) as { error: string; error_codes: number[]; error_description: string };
    assert.equal(answerBody.error, 'invalid_client');
    assert.deepEqual(answerBody.error_codes, [700213]);
    assert.match(answerBody.error_description, new RegExp(systemAssignedPrincipal));
    // Without the identity header the endpoint gives nothing (as App Service).
    assert.equal((await fetch(`${sim.identity!.endpoint}?api-version=2019-08-01&resource=x`)).status, 401);
  });

  it('settings: the identity is named by client id, never the app registration\'s, and needs O365_CLIENT_ID', () => {
    const problems = (env: Env) => {
      try {
        settingsFor(env);
        return [];
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems.map((p) => `${p.setting}: ${p.problem}`);
      }
    };
    assert.ok(problems({ O365_FEDERATED_IDENTITY_CLIENT_ID: appId }).some((p) => /^O365_FEDERATED_IDENTITY_CLIENT_ID: is the app registration's client id/.test(p)));
    assert.ok(problems({ O365_FEDERATED_IDENTITY_CLIENT_ID: 'system' }).some((p) => p.startsWith('O365_FEDERATED_IDENTITY_CLIENT_ID')));
    assert.ok(problems({ O365_FEDERATED_IDENTITY_CLIENT_ID: identity.clientId, O365_CLIENT_SECRET: 'x-secret-value' }).some((p) => /only one way to sign in/.test(p)));
    assert.ok(problems({ O365_FEDERATED_IDENTITY_CLIENT_ID: identity.clientId, O365_CLIENT_ID: undefined }).some((p) => /^O365_CLIENT_ID: is required with O365_FEDERATED_IDENTITY_CLIENT_ID/.test(p)));
  });
});

describe('client certificate as PEM text (Key Vault reference to a PEM certificate\'s secret)', () => {
  it('signs in with the key and certificate from the setting and lists content', async () => {
    const settings = parseSettings({
      O365_TENANT_ID: tenantA,
      O365_CLIENT_ID: certAppId,
      O365_CLIENT_CERTIFICATE_PEM: certificatePem,
      O365_API_BASE_URL: sim.baseUrl,
      O365_AUTHORITY_HOST: sim.authorityHost,
      O365_CA_FILE: sim.caCertPath,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    }).api;
    assert.equal(settings.credential.kind, 'clientCertificatePem');
    const client = createClientFromSettings(settings);
    try {
      const listed = await client.tenant(tenantA).listSubscriptions();
      assert.ok(Array.isArray(listed));
    } finally {
      client.close();
    }
    const forms = sim.journal.filter((e) => e.direction === 'in' && e.tenantId === tenantA && /token$/.test(e.path)).map((e) => e.body as Record<string, string>);
    assert.ok(forms.some((f) => f['client_id'] === certAppId && f['client_assertion_type']?.endsWith('jwt-bearer')));
  });

  it('refuses a PFX, an encrypted key, a key without its certificate and another certificate\'s key, naming the setting and never the value', async () => {
    const other = await createClientCertificate('another');
    const keyOnly = certificatePem.slice(0, certificatePem.indexOf('-----BEGIN CERTIFICATE-----'));
    const certOnly = certificatePem.slice(certificatePem.indexOf('-----BEGIN CERTIFICATE-----'));
    const cases: Array<[string, RegExp]> = [
      [Buffer.from('0\x82\x0a\x10 pretend PKCS#12 bytes').toString('base64'), /looks like a PFX.*application\/x-pem-file/],
      ['-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n' + certOnly, /encrypted private key/],
      [certOnly, /holds no private key/],
      [keyOnly, /holds no certificate/],
      [other.privateKeyPem + certOnly, /does not belong to its \(first\) certificate/],
      ['just some text', /is not PEM text/],
    ];
    for (const [value, expected] of cases) {
      try {
        parseSettings({ O365_TENANT_ID: tenantA, O365_CLIENT_ID: certAppId, O365_CLIENT_CERTIFICATE_PEM: value, AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
        assert.fail('accepted');
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        const problem = err.problems.find((p) => p.setting === 'O365_CLIENT_CERTIFICATE_PEM');
        assert.ok(problem, err.message);
        assert.match(problem.problem, expected);
        assert.ok(!err.message.includes(value.slice(0, 40)), 'the value is never in the error');
      }
    }
  });
});
