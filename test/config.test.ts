import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveEndpoints } from '../shared/api/clouds';
import { ConfigError, loadSettings, parseSettings, type Env } from '../shared/config';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const tenant2 = '11111111-2222-3333-4444-555555555555';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const secret = 'Sup3r~Secret.Value_123';
const base: Env = { O365_TENANT_ID: tenant, O365_CLIENT_ID: clientId, O365_CLIENT_SECRET: secret };

function problems(env: Env): Map<string, string> {
  try {
    parseSettings(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.retryable, false);
    for (const [name, value] of Object.entries(env)) {
      // Content type names are echoed on purpose (they are not secret and naming the bad one helps).
      if (name !== 'O365_CONTENT_TYPES' && value && value.length > 6) assert.ok(!err.message.includes(value), `the error shows a value: ${value}`);
    }
    return new Map(err.problems.map((p) => [p.setting, p.problem]));
  }
  assert.fail('expected a ConfigError');
}

describe('settings', () => {
  it('reads a minimal client-secret setup with defaults', () => {
    const { api } = parseSettings(base);
    assert.deepEqual(api.tenantIds, [tenant]);
    assert.deepEqual(api.credential, { kind: 'clientSecret', clientId, clientSecret: secret });
    assert.equal(api.cloud, 'Enterprise');
    assert.equal(api.endpoints.apiOrigin, 'https://manage.office.com');
    assert.equal(api.endpoints.scope, 'https://manage.office.com/.default');
    assert.equal(api.contentTypes.length, 5);
    assert.equal(api.publisherId, tenant, 'publisher id defaults to the home tenant');
    assert.equal(api.requestsPerMinute, 600);
    assert.equal(api.restartDisabledSubscriptions, false);
  });

  it('reads clouds, several tenants, content types and a publisher id', () => {
    const { api } = parseSettings({
      ...base,
      O365_TENANT_ID: `${tenant.toUpperCase()}, ${tenant2}`,
      O365_CLOUD: 'GCC High',
      O365_CONTENT_TYPES: 'audit.exchange,DLP.All',
      O365_PUBLISHER_ID: tenant2,
      O365_REQUESTS_PER_MINUTE: '300',
      O365_RESTART_DISABLED_SUBSCRIPTIONS: 'true',
    });
    assert.deepEqual(api.tenantIds, [tenant, tenant2]);
    assert.equal(api.cloud, 'GCCHigh');
    assert.equal(api.endpoints.apiOrigin, 'https://manage.office365.us');
    assert.equal(api.endpoints.authorityHost, 'https://login.microsoftonline.us');
    assert.deepEqual(api.contentTypes, ['Audit.Exchange', 'DLP.All']);
    assert.equal(api.publisherId, tenant2);
    assert.equal(api.requestsPerMinute, 300);
    assert.equal(api.restartDisabledSubscriptions, true);
  });

  it('supports certificate, managed identity and workload identity', () => {
    assert.equal(parseSettings({ O365_TENANT_ID: tenant, O365_CLIENT_ID: clientId, O365_CLIENT_CERTIFICATE_PATH: '/x.pem' }).api.credential.kind, 'clientCertificate');
    assert.deepEqual(parseSettings({ O365_TENANT_ID: tenant, O365_USE_MANAGED_IDENTITY: 'true' }).api.credential, { kind: 'managedIdentity', clientId: undefined });
    assert.equal(parseSettings({ O365_TENANT_ID: tenant, O365_USE_WORKLOAD_IDENTITY: '1' }).api.credential.kind, 'workloadIdentity');
  });

  it('names every missing or bad setting at once, without values', () => {
    const p = problems({ O365_TENANT_ID: 'contoso.onmicrosoft.com', O365_CLIENT_SECRET: secret, O365_CLOUD: 'Mars', O365_CONTENT_TYPES: 'Audit.Nope', O365_REQUESTS_PER_MINUTE: '5000' });
    assert.match(p.get('O365_TENANT_ID')!, /GUID/);
    assert.match(p.get('O365_CLIENT_ID')!, /required/);
    assert.match(p.get('O365_CLOUD')!, /Enterprise, GCC, GCCHigh, DoD/);
    assert.match(p.get('O365_CONTENT_TYPES')!, /Audit.Nope/);
    assert.match(p.get('O365_REQUESTS_PER_MINUTE')!, /2000/);
  });

  it('requires exactly one way to sign in', () => {
    assert.match(problems({ O365_TENANT_ID: tenant, O365_CLIENT_ID: clientId }).get('O365_CLIENT_SECRET')!, /choose how to sign in/);
    const two = problems({ ...base, O365_USE_MANAGED_IDENTITY: 'true' });
    assert.ok(two.has('O365_CLIENT_SECRET') && two.has('O365_USE_MANAGED_IDENTITY'));
    assert.match(problems({ ...base, O365_USE_MANAGED_IDENTITY: 'maybe' }).get('O365_USE_MANAGED_IDENTITY')!, /true or false/);
  });

  it('missing tenant is reported by name, together with the other problems', () => {
    assert.match(problems({ O365_CLIENT_ID: clientId, O365_CLIENT_SECRET: secret }).get('O365_TENANT_ID')!, /^is required \(or keep every tenant in the registry table: set O365_TENANT_REGISTRY\)/);
    const empty = problems({});
    assert.match(empty.get('O365_TENANT_ID')!, /^is required/);
    assert.ok(empty.has('O365_CLIENT_SECRET'));
  });

  it('a table-only deployment: O365_TENANT_REGISTRY makes O365_TENANT_ID optional, with the publisher id and storage it needs', () => {
    const storage = 'UseDevelopmentStorage=true';
    const tableOnly = { O365_CLIENT_ID: clientId, O365_CLIENT_SECRET: secret, O365_TENANT_REGISTRY: 'customers', O365_PUBLISHER_ID: tenant2, AzureWebJobsStorage: storage };
    const { api } = parseSettings(tableOnly);
    assert.deepEqual(api.tenantIds, []);
    assert.equal(api.tenantTable, 'customers');
    assert.equal(api.tenantTableNamed, true);
    assert.equal(api.publisherId, tenant2);
    assert.equal(parseSettings(base).api.tenantTable, 'relaytenants', 'the default table, followed besides the settings');
    assert.equal(parseSettings({ ...tableOnly, O365_TENANT_ID: tenant }).api.tenantIds[0], tenant, 'both together still work');
    assert.match(problems({ ...tableOnly, O365_PUBLISHER_ID: undefined }).get('O365_PUBLISHER_ID')!, /required when O365_TENANT_ID is not set/);
    assert.match(problems({ ...tableOnly, AzureWebJobsStorage: undefined }).get('O365_TENANT_REGISTRY')!, /table in the app's storage/);
    assert.match(problems({ ...tableOnly, O365_TENANT_REGISTRY: 'no-dashes' }).get('O365_TENANT_REGISTRY')!, /must be a table name/);
    assert.match(problems({ ...tableOnly, O365_TENANT_REGISTRY: ' ' }).get('O365_TENANT_ID')!, /^is required/, 'blank is unset');
  });

  it('O365_KEYVAULT_URL_OVERRIDE: a loopback https origin, with the simulator only, never in Azure', () => {
    const sim = { ...base, O365_API_BASE_URL: 'https://127.0.0.1:4443', O365_CA_FILE: '/tmp/ca.pem' };
    assert.equal(parseSettings({ ...sim, O365_KEYVAULT_URL_OVERRIDE: 'https://127.0.0.1:9443' }).api.keyVaultOrigin, 'https://127.0.0.1:9443');
    assert.equal(parseSettings(sim).api.keyVaultOrigin, undefined);
    assert.match(problems({ ...base, O365_KEYVAULT_URL_OVERRIDE: 'https://127.0.0.1:9443' }).get('O365_KEYVAULT_URL_OVERRIDE')!, /only used with O365_API_BASE_URL or O365_AUTHORITY_HOST/);
    assert.match(problems({ ...sim, O365_KEYVAULT_URL_OVERRIDE: 'https://relay-kv.vault.azure.net' }).get('O365_KEYVAULT_URL_OVERRIDE')!, /loopback/);
    assert.match(problems({ ...sim, O365_KEYVAULT_URL_OVERRIDE: 'http://127.0.0.1:9443' }).get('O365_KEYVAULT_URL_OVERRIDE')!, /https/);
    assert.match(problems({ ...sim, O365_KEYVAULT_URL_OVERRIDE: 'https://127.0.0.1:9443', WEBSITE_INSTANCE_ID: 'x' }).get('O365_KEYVAULT_URL_OVERRIDE')!, /refused when running in Azure/);
  });

  it('accepts simulator overrides on loopback only, and never in Azure', () => {
    const { api } = parseSettings({ ...base, O365_API_BASE_URL: 'https://127.0.0.1:4443/', O365_AUTHORITY_HOST: 'https://127.0.0.1:4443', O365_CA_FILE: '/tmp/ca.pem' });
    assert.equal(api.endpoints.apiOrigin, 'https://127.0.0.1:4443');
    assert.equal(api.endpoints.scope, 'https://manage.office.com/.default', 'the token scope stays the cloud one');
    assert.equal(api.endpoints.simulated, true);
    assert.equal(api.caFile, '/tmp/ca.pem');
    for (const bad of ['https://evil.example', 'http://127.0.0.1:4443', 'https://127.0.0.1.evil.example', 'https://127.0.0.1:4443/api', 'not a url', 'https://user@127.0.0.1']) {
      assert.ok(problems({ ...base, O365_API_BASE_URL: bad }).has('O365_API_BASE_URL'), bad);
      assert.ok(problems({ ...base, O365_AUTHORITY_HOST: bad }).has('O365_AUTHORITY_HOST'), bad);
    }
    const inAzure = problems({ ...base, WEBSITE_INSTANCE_ID: 'abc', O365_API_BASE_URL: 'https://127.0.0.1:4443', O365_CA_FILE: '/tmp/ca.pem' });
    assert.match(inAzure.get('O365_API_BASE_URL')!, /refused when running in Azure/);
    assert.ok(inAzure.has('O365_CA_FILE'));
    assert.ok(problems({ ...base, O365_CA_FILE: '/tmp/ca.pem' }).has('O365_CA_FILE'), 'a CA file only with an override');
  });

  it('takes a webhook over https, or plain http to loopback for local runs only', () => {
    const authId = 'a-long-random-auth-id-0123';
    for (const ok of ['https://relay.example/api/webhook', 'http://127.0.0.1:7071/api/webhook', 'http://localhost:7071/', 'http://[::1]:7071/x']) {
      assert.equal(parseSettings({ ...base, O365_WEBHOOK_URL: ok, O365_WEBHOOK_AUTH_ID: authId }).relay.webhook?.address, ok);
    }
    for (const bad of ['http://relay.example/api/webhook', 'http://127.0.0.1.evil.example/', 'http://127.0.0.1@evil.example/', 'ftp://127.0.0.1/', 'not a url']) {
      assert.match(problems({ ...base, O365_WEBHOOK_URL: bad, O365_WEBHOOK_AUTH_ID: authId }).get('O365_WEBHOOK_URL') ?? '', /^must be https \(plain http only/, bad);
    }
    const inAzure = problems({ ...base, WEBSITE_INSTANCE_ID: 'abc', O365_WEBHOOK_URL: 'http://127.0.0.1:7071/api/webhook', O365_WEBHOOK_AUTH_ID: authId });
    assert.equal(inAzure.get('O365_WEBHOOK_URL'), 'must be https');
  });

  it('resolveEndpoints refuses overrides in Azure and off loopback on its own too', () => {
    assert.throws(() => resolveEndpoints('Enterprise', { apiBaseUrl: 'https://127.0.0.1:1' }, true), /refused when running in Azure/);
    assert.throws(() => resolveEndpoints('Enterprise', { authorityHost: 'https://login.evil.example' }, false), /loopback/);
    assert.equal(resolveEndpoints('DoD', {}, true).apiOrigin, 'https://manage.protection.apps.mil');
  });

  it('treats blank values as unset', () => {
    assert.equal(parseSettings({ ...base, O365_CLOUD: '  ', O365_PUBLISHER_ID: '' }).api.cloud, 'Enterprise');
  });

  it('O365_MAX_RECORD_BYTES: 16 MiB by default, a whole number of bytes up to 256 MiB', () => {
    assert.equal(parseSettings(base).relay.maxRecordBytes, 16 * 1024 * 1024);
    assert.equal(parseSettings({ ...base, O365_MAX_RECORD_BYTES: '1048576' }).relay.maxRecordBytes, 1048576);
    assert.ok(problems({ ...base, O365_MAX_RECORD_BYTES: '16MB' }).has('O365_MAX_RECORD_BYTES'));
    assert.match(problems({ ...base, O365_MAX_RECORD_BYTES: String(512 * 1024 * 1024) }).get('O365_MAX_RECORD_BYTES') ?? '', /at most/);
  });

  it('JSON settings: text that is not JSON, a wrong shape and inline secrets are each named with the setting', () => {
    const bad = problems({ ...base, O365_TENANTS: '[{', O365_FILTER: '{"exclude": 3}', O365_SINKS: '{}' });
    assert.equal(bad.get('O365_TENANTS'), 'must be JSON: [{"tenantId": "...", "contentTypes": [...], "authIdSetting": "SETTING_NAME", "requestsPerMinute": 1800}]');
    assert.match(bad.get('O365_FILTER') ?? '', /^exclude: /);
    assert.match(bad.get('O365_SINKS') ?? '', /^\(sinks\): /);
    assert.equal(problems({ ...base, O365_FILTER: 'x' }).get('O365_FILTER'), 'must be JSON, e.g. {"exclude": {"operations": ["FileAccessed"]}}');
    assert.equal(problems({ ...base, O365_TENANTS: JSON.stringify([{ tenantId: tenant, authId: 'an-inline-webhook-auth-id' }]) }).get('O365_TENANTS'),
      'must not hold secrets inline: name the setting that holds them (authIdSetting)');
    const settings = parseSettings({ ...base, O365_TENANTS: JSON.stringify([{ tenantId: tenant.toUpperCase(), authIdSetting: 'TENANT_AUTH' }]), TENANT_AUTH: ' a-long-enough-auth-id ' });
    assert.deepEqual(settings.relay.tenants, [{ tenantId: tenant, authIdSetting: 'TENANT_AUTH', authId: 'a-long-enough-auth-id' }]);
  });
});

describe('local.settings.json', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'o365-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('fills in what the environment lacks; the environment wins', () => {
    const file = path.join(dir, 'local.settings.json');
    writeFileSync(file, JSON.stringify({ IsEncrypted: false, Values: { ...base, O365_CLOUD: 'GCC', O365_REQUESTS_PER_MINUTE: 100 } }));
    const { api } = loadSettings({ env: { O365_CLOUD: 'DoD', O365_CLIENT_SECRET: '' }, localSettingsFile: file });
    assert.equal(api.cloud, 'DoD');
    assert.equal(api.requestsPerMinute, 100);
    assert.equal(api.credential.kind, 'clientSecret');
  });

  it('reports an unreadable or encrypted file by name', () => {
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ nope');
    assert.throws(() => loadSettings({ env: {}, localSettingsFile: broken }), (e: unknown) => e instanceof ConfigError && e.problems[0]!.setting === 'broken.json');
    const encrypted = path.join(dir, 'enc.json');
    writeFileSync(encrypted, JSON.stringify({ IsEncrypted: true, Values: {} }));
    assert.throws(() => loadSettings({ env: {}, localSettingsFile: encrypted }), /encrypted/);
  });

  it('skips the file when told to', () => {
    assert.throws(() => loadSettings({ env: {}, localSettingsFile: null }), (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.setting === 'O365_TENANT_ID'));
  });
});
