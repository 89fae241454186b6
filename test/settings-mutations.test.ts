// Settings an operator mistypes: random mutations of a valid, full set of settings never crash what a command does
// at start-up (load, compile the filters, build the sinks). Each mutation is either valid or refused with the name
// of the setting and never its value. And the documented cases, each by name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ConfigError, parseSettings, type Env } from '../shared/config';
import { createLogger } from '../shared/log';
import { compileFilter } from '../shared/records/filters';
import { createSinks } from '../shared/sinks/create-sinks';
import { createStorageAccount } from '../shared/state/storage-account';
import { byProfile } from './support/suite-profile';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const tenant2 = '11111111-2222-3333-4444-555555555555';
const secretValues = { O365_CLIENT_SECRET: 'Sup3r~Secret.Value_123', HEC_TOKEN: 'hec-token-0123456789abcdef', AUTH_B: 'authid-for-tenant-b-0123456789' };
const valid: Env = {
  ...secretValues,
  O365_TENANT_ID: `${tenant},${tenant2}`,
  O365_CLIENT_ID: '676e8273-3c93-4205-910f-614bb4396a55',
  AzureWebJobsStorage: 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1',
  O365_WEBHOOK_URL: 'https://relay.example.net/api/notifications',
  O365_WEBHOOK_AUTH_ID: 'a-long-random-webhook-auth-id-0123',
  O365_TENANTS: JSON.stringify([{ tenantId: tenant, contentTypes: ['Audit.Exchange', 'DLP.All'] }, { tenantId: tenant2, authIdSetting: 'AUTH_B' }]),
  O365_FILTER: JSON.stringify({ exclude: { recordTypes: ['ExchangeItem', 50], operations: ['*-InboxRule'] }, exchangeMailboxActivity: true }),
  O365_SINKS: JSON.stringify([
    { kind: 'blob', name: 'archive', container: 'o365-audit', format: 'json' },
    { kind: 'splunk-hec', name: 'splunk', url: 'https://splunk.example.net:8088', tokenSetting: 'HEC_TOKEN', filter: { include: { recordTypes: ['AzureActiveDirectoryStsLogon'] } } },
    { kind: 'https-json', name: 'customer-b', url: 'https://collector.example.net/ingest', tokenSetting: 'HEC_TOKEN', tenants: [tenant2] },
  ]),
};
const knownNames = new Set([...Object.keys(valid), 'local.settings.json']);

/** What a command does with its settings before any I/O: load them, compile every filter, build every sink. */
function startUp(env: Env): 'valid' | ConfigError {
  let settings;
  try {
    settings = parseSettings(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  compileFilter(settings.relay.filter);
  const storage = settings.relay.storage && createStorageAccount(settings.relay.storage);
  try {
    createSinks(settings.relay.sinks, { storage, secret: (name) => env[name] ?? '', logger: createLogger({ level: 'error', write: () => {} }) });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  return 'valid';
}

function assertNamed(error: ConfigError, env: Env): void {
  for (const problem of error.problems) assert.ok(knownNames.has(problem.setting) || problem.setting.startsWith('O365_') || problem.setting.startsWith('AzureWebJobsStorage'), `a problem names ${problem.setting}`);
  for (const value of Object.values(secretValues)) assert.ok(!error.message.includes(value), 'a secret value in the error');
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('O365_') && value && value.length > 8 && !value.startsWith('[') && !value.startsWith('{')) {
      assert.ok(!error.message.includes(value) || name === 'O365_CONTENT_TYPES', `the error shows the value of ${name}`);
    }
  }
}

/** Random edits of a JSON setting's structure: drop, retype, add unknown keys, duplicate entries, odd names. */
const oddValue = fc.oneof(
  fc.constantFrom<unknown>(null, 0, -1, 1e300, true, '', ' ', 'constructor', '__proto__', 'toString', 'NoSuchRecordType', 'not a url', 'http://203.0.113.9/x', 'https://user:pw@x.example', [], {}, ['x'], { a: 1 }),
  fc.string({ maxLength: 12 }),
  fc.integer(),
);
const keyName = fc.constantFrom('tenantId', 'contentTypes', 'authIdSetting', 'kind', 'name', 'url', 'tokenSetting', 'tenants', 'filter', 'include', 'exclude', 'recordTypes', 'operations', 'container', 'format', 'colour', 'constructor', '__proto__', 'authId');

function mutateJson(value: unknown, path: number[], edit: { kind: number; key: string; odd: unknown }): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || edit.kind === 0) return [...value, edit.odd];
    const i = (path[0] ?? 0) % value.length;
    if (edit.kind === 1) return [...value, value[i]]; // a duplicate entry
    return value.map((v, j) => (j === i ? mutateJson(v, path.slice(1), edit) : v));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    const out: Record<string, unknown> = Object.fromEntries(entries);
    if (entries.length === 0 || edit.kind === 2) {
      Object.defineProperty(out, edit.key, { value: edit.odd, enumerable: true, configurable: true, writable: true });
      return out;
    }
    const [key, inner] = entries[(path[0] ?? 0) % entries.length]!;
    if (edit.kind === 3) delete out[key];
    else out[key] = path.length > 1 ? mutateJson(inner, path.slice(1), edit) : edit.odd;
    return out;
  }
  return edit.odd;
}

type Mutation =
  | { name: string; text: string | undefined }
  | { name: 'O365_TENANTS' | 'O365_FILTER' | 'O365_SINKS'; path: number[]; kind: number; key: string; odd: unknown };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ name: fc.constantFrom(...Object.keys(valid)), text: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(undefined, '', '[]', '{}', 'null', '[null]', '{"__proto__":{}}')) }),
  fc.record({ name: fc.constantFrom('O365_TENANTS' as const, 'O365_FILTER' as const, 'O365_SINKS' as const), path: fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), kind: fc.nat(6), key: keyName, odd: oddValue }),
);
const apply = (env: Env, m: Mutation): Env =>
  'text' in m ? { ...env, [m.name]: m.text } : { ...env, [m.name]: JSON.stringify(mutateJson(jsonOrText(env[m.name]), m.path, m)) };
/** An earlier mutation may have left text that is not JSON: it is then mutated as a string. */
function jsonOrText(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    return text;
  }
}

describe('settings under random mutation', () => {
  it('the unmutated settings are valid', () => {
    assert.equal(startUp(valid), 'valid');
  });

  it('every mutation is either valid or refused naming the setting; nothing crashes', () => {
    let refused = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (edits) => {
        const env = edits.reduce(apply, valid);
        const result = startUp(env);
        if (result !== 'valid') {
          refused++;
          assertNamed(result, env);
        }
      }),
      { numRuns: byProfile({ ci: 2_000, long: 20_000 }) },
    );
    assert.ok(refused > 0, 'some mutations were refused');
  });

  it('names each documented mistake by setting and place', () => {
    const problem = (edit: Env) => {
      const result = startUp({ ...valid, ...edit });
      assert.ok(result instanceof ConfigError, JSON.stringify(edit));
      return result.problems.map((p) => `${p.setting}: ${p.problem}`).join('\n');
    };
    const sinks = JSON.parse(valid.O365_SINKS!) as Array<Record<string, unknown>>;
    const withSink = (i: number, patch: Record<string, unknown>) => JSON.stringify(sinks.map((s, j) => (j === i ? { ...s, ...patch } : s)));
    assert.match(problem({ O365_FILTER: '{"include":{"recordTypes":["NoSuchType"]}}' }), /^O365_FILTER: include\.recordTypes\[0\]: unknown RecordType "NoSuchType"$/);
    assert.match(problem({ O365_SINKS: withSink(2, { filter: { exclude: { recordTypes: ['Nope'] } } }) }), /^O365_SINKS: \[2\]\.filter\.exclude\.recordTypes\[0\]: unknown RecordType "Nope"$/);
    assert.match(problem({ O365_SINKS: withSink(1, { url: 'splunk example net' }) }), /^O365_SINKS: \[1\]\.url: must be an absolute URL$/);
    assert.match(problem({ O365_SINKS: withSink(2, { tenant: [tenant2] }) }), /^O365_SINKS: \[2\]: Unrecognized key: "tenant"$/);
    assert.match(problem({ O365_TENANTS: JSON.stringify([{ tenantId: tenant, contentType: ['DLP.All'] }]) }), /^O365_TENANTS: \[0\]: Unrecognized key: "contentType"$/);
    assert.match(problem({ O365_TENANTS: JSON.stringify([{ tenantId: tenant }, { tenantId: tenant.toUpperCase(), contentTypes: ['DLP.All'] }]) }), /^O365_TENANTS: \[1\]: tenant 3e1a9b42-f5fb-49f0-ad1b-05d97491bc66 is listed twice$/);
    assert.match(problem({ O365_MAX_RECORD_BYTES: '16MB' }), /^O365_MAX_RECORD_BYTES: must be a whole number$/);
    assert.match(problem({ O365_REQUESTS_PER_MINUTE: '0' }), /^O365_REQUESTS_PER_MINUTE: must be at least 1$/);
  });
});
