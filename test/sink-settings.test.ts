// O365_SINKS: one schema for every kind, routing, and secrets only by setting name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseSettings, type Env } from '../shared/config';
import { createSinks } from '../shared/sinks/create-sinks';
import { createLogger } from '../shared/log';
import { createStorageAccount } from '../shared/state/storage-account';

const base: Env = { O365_TENANT_ID: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66', O365_USE_MANAGED_IDENTITY: 'true' };
const withSinks = (sinks: unknown, extra: Env = {}) => parseSettings({ ...base, ...extra, O365_SINKS: JSON.stringify(sinks) });
const problems = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.setting}: ${p.problem}`).join('\n');
    throw err;
  }
  assert.fail('expected a ConfigError');
};

describe('O365_SINKS', () => {
  it('defaults to the blob sink of O365_BLOB_CONTAINER', () => {
    assert.deepEqual(parseSettings({ ...base, O365_BLOB_CONTAINER: 'audit-lines' }).relay.sinks, [{ kind: 'blob', name: 'blob', container: 'audit-lines', format: 'line' }]);
  });

  it('reads every kind, with routing and a per-sink filter', () => {
    const sinks = withSinks(
      [
        { kind: 'blob', name: 'archive', container: 'o365-archive' },
        { kind: 'https-json', name: 'elastic', url: 'https://collector.example/ingest', tokenSetting: 'ELASTIC_TOKEN', filter: { exchangeMailboxActivity: false } },
        { kind: 'splunk-hec', name: 'customer-a', url: 'https://splunk.example:8088', tokenSetting: 'HEC_TOKEN', tenants: ['3E1A9B42-F5FB-49F0-AD1B-05D97491BC66'] },
        { kind: 'sentinel', name: 'sentinel', endpoint: 'https://dce.example.ingest.monitor.azure.com', ruleId: 'dcr-0123456789abcdef0123456789abcdef' },
        { kind: 'syslog', name: 'rsyslog', host: 'syslog.example', tls: { caSetting: 'SYSLOG_CA', certSetting: 'SYSLOG_CERT', keySetting: 'SYSLOG_KEY' } },
      ],
      { ELASTIC_TOKEN: 'elastic-secret-value', HEC_TOKEN: '11111111-2222-3333-4444-555555555555', SYSLOG_CA: 'ca-pem', SYSLOG_CERT: 'cert-pem', SYSLOG_KEY: 'key-pem' },
    ).relay.sinks;
    assert.deepEqual(sinks.map((s) => s.kind), ['blob', 'https-json', 'splunk-hec', 'sentinel', 'syslog']);
    assert.deepEqual(sinks[2]!.tenants, ['3e1a9b42-f5fb-49f0-ad1b-05d97491bc66']);
    const built = createSinks(sinks, { storage: createStorageAccount({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' }), secret: (n) => ({ ELASTIC_TOKEN: 'elastic-secret-value', HEC_TOKEN: 'x' })[n] ?? '', logger: createLogger({ level: 'error' }) });
    assert.deepEqual(built.map((s) => s.name), ['archive', 'elastic', 'customer-a', 'sentinel', 'rsyslog']);
    assert.match(problems(() => withSinks([{ kind: 'syslog', name: 's', host: 'h', tls: { caSetting: 'SYSLOG_CA', certSetting: 'C', keySetting: 'NOT_SET_KEY' } }], { SYSLOG_CA: 'x', C: 'y' })), /NOT_SET_KEY is not set/);
  });

  it('refuses inline secrets, unset secret settings, unknown kinds and duplicate names, naming O365_SINKS', () => {
    const inline = problems(() => withSinks([{ kind: 'https-json', name: 'x', url: 'https://c.example/', token: 'abc' }]));
    assert.match(inline, /^O365_SINKS: .*never inline/m);
    assert.doesNotMatch(inline, /abc/);
    assert.match(problems(() => withSinks([{ kind: 'splunk-hec', name: 'x', url: 'https://s.example:8088', tokenSetting: 'HEC_TOKEN' }])), /O365_SINKS: names the setting HEC_TOKEN, but HEC_TOKEN is not set/);
    assert.match(problems(() => withSinks([{ kind: 'kafka', name: 'x' }])), /^O365_SINKS: /);
    assert.match(problems(() => withSinks([{ kind: 'blob', name: 'a', container: 'abc' }, { kind: 'blob', name: 'a', container: 'def' }])), /used twice/);
    assert.match(problems(() => parseSettings({ ...base, O365_SINKS: '[{' })), /O365_SINKS: must be JSON/);
  });
});

describe('Key Vault references', () => {
  it('refuses a setting whose Key Vault reference did not resolve, by name and without its text', () => {
    const text = problems(() => parseSettings({ ...base, O365_WEBHOOK_URL: 'https://relay.example/api/notifications', O365_WEBHOOK_AUTH_ID: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/o365-webhook-auth-id/)' }));
    assert.match(text, /^O365_WEBHOOK_AUTH_ID: is a Key Vault reference that did not resolve/m);
    assert.doesNotMatch(text, /vault\.azure\.net/);
  });
});
