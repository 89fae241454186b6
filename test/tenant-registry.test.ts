// The tenant registry's rules (pure), its cached view, and secret references (a setting name; a Key Vault secret
// URI read from a local fake Key Vault over real HTTPS with a bearer token, as the documented GET secret contract).
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createHttpTransport } from '../shared/api/http';
import { clouds } from '../shared/api/clouds';
import { applyAction, consentUrl, followedTenants, registryDisagreements, SecretReference, tenantStates, TenantRecord, type TenantAction } from '../shared/pipeline/tenants';
import { createSecretResolver } from '../shared/settings/secret-reference';
import { createTenantView } from '../shared/state/tenant-registry';
import { sinksForTenant } from '../shared/sinks/routing';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';

const t1 = '11111111-1111-4111-8111-111111111111';
const t2 = '22222222-2222-4222-8222-222222222222';
const at = '2026-01-01T00:00:00.000Z';
const row = (tenantId: string, state: TenantRecord['state'], contentTypes: TenantRecord['contentTypes'] = ['Audit.General']): TenantRecord =>
  TenantRecord.parse({ tenantId, displayName: 'Contoso', cloud: 'Enterprise', contentTypes, state, added: at, changed: at });

describe('tenant state rules', () => {
  it('follows the transition table and refuses the rest with the state named', () => {
    const expected: Record<TenantAction, Partial<Record<TenantRecord['state'], TenantRecord['state']>>> = {
      activate: { onboarding: 'active', paused: 'active', active: 'active' },
      pause: { active: 'paused', onboarding: 'paused' },
      resume: { paused: 'active' },
      remove: { onboarding: 'removed', active: 'removed', paused: 'removed' },
    };
    const later = new Date('2026-02-01T00:00:00Z');
    for (const [action, outcomes] of Object.entries(expected) as Array<[TenantAction, Partial<Record<TenantRecord['state'], TenantRecord['state']>>]>) {
      for (const state of tenantStates) {
        const result = applyAction(row(t1, state), action, later);
        if (outcomes[state] === undefined) {
          assert.equal(result.ok, false, `${action} from ${state}`);
          if (!result.ok) assert.match(result.reason, new RegExp(`is ${state}: ${action} needs`));
        } else {
          assert.ok(result.ok, `${action} from ${state}`);
          if (result.ok) {
            assert.equal(result.record.state, outcomes[state]);
            assert.equal(result.record.changed, later.toISOString());
            assert.equal(result.record.added, at);
          }
        }
      }
    }
  });

  it('follows the settings tenants and only the active registry rows (paused, removed, onboarding are not planned)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tenantStates), { minLength: 1, maxLength: 8 }), (states) => {
        const records = states.map((s, i) => row(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, s));
        const followed = followedTenants([{ tenantId: t1, contentTypes: ['Audit.Exchange'] }], records);
        assert.equal(followed[0]?.tenantId, t1);
        assert.deepEqual(followed.slice(1).map((t) => t.tenantId), records.filter((r) => r.state === 'active').map((r) => r.tenantId));
      }),
    );
  });

  it('names both the settings and the table where they disagree, and only there', () => {
    const settings = [{ tenantId: t1, contentTypes: ['Audit.General', 'Audit.Exchange'] as const }, { tenantId: t2, contentTypes: ['Audit.General'] as const }];
    assert.deepEqual(registryDisagreements(settings, [row(t1, 'active', ['Audit.Exchange', 'Audit.General']), row(t2, 'removed')], 'relaytenants'), []);
    const problems = registryDisagreements(settings, [row(t1, 'active', ['Audit.General']), row(t2, 'paused')], 'relaytenants');
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /O365_TENANT_ID\/O365_TENANTS give content types Audit\.General,Audit\.Exchange, table relaytenants gives Audit\.General/);
    assert.match(problems[1]!, new RegExp(`tenant ${t2} is in O365_TENANT_ID \\(followed\\) but paused in table relaytenants`));
  });

  it('reads secret references: a setting name or a Key Vault secret URI, never a value', () => {
    assert.deepEqual(SecretReference.parse('TENANT_A_AUTH_ID'), { kind: 'setting', name: 'TENANT_A_AUTH_ID' });
    assert.deepEqual(SecretReference.parse('https://relay-kv.vault.azure.net/secrets/tenant-a-authid'), { kind: 'keyVault', uri: 'https://relay-kv.vault.azure.net/secrets/tenant-a-authid' });
    for (const bad of ['s3cr3t value with spaces', 'http://relay-kv.vault.azure.net/secrets/x', 'https://evil.example/secrets/x', '']) assert.equal(SecretReference.safeParse(bad).success, false, bad);
    assert.equal(TenantRecord.safeParse({ ...row(t1, 'active'), authIdRef: 'an inline authId value!' }).success, false);
  });

  it('routes a registry tenant to the sinks its row names, else by the sinks\' own tenant lists', () => {
    const sinks = [{ name: 'blob' }, { name: 'splunk' }, { name: 'sentinel-t2', tenants: [t2] }];
    assert.deepEqual(sinksForTenant(sinks, t1, ['splunk']).map((s) => s.name), ['splunk']);
    assert.deepEqual(sinksForTenant(sinks, t1, ['gone', 'splunk']).map((s) => s.name), ['splunk'], 'a name no longer in O365_SINKS costs only itself');
    assert.deepEqual(sinksForTenant(sinks, t1, []).map((s) => s.name), ['blob', 'splunk']);
    assert.deepEqual(sinksForTenant(sinks, t2).map((s) => s.name), ['sentinel-t2']);
    assert.deepEqual(sinksForTenant(sinks, t1, ['gone']), [], 'never another customer\'s default sinks');
  });

  it('builds the admin-consent link on each cloud\'s sign-in host', () => {
    const url = new URL(consentUrl(clouds.GCCHigh.authorityHost, t1, t2, 'https://login.microsoftonline.us/common/oauth2/nativeclient'));
    assert.equal(url.origin, 'https://login.microsoftonline.us');
    assert.equal(url.pathname, `/${t1}/adminconsent`);
    assert.equal(url.searchParams.get('client_id'), t2);
    assert.equal(url.searchParams.get('redirect_uri'), 'https://login.microsoftonline.us/common/oauth2/nativeclient');
    assert.equal(new URL(consentUrl(clouds.Enterprise.authorityHost, t1, t2, 'https://x.example/')).origin, 'https://login.microsoftonline.com');
  });
});

describe('the cached tenant view', () => {
  it('reads the table once per TTL however many lookups (unknown tenants included), and keeps the last list when a read fails', async () => {
    let now = 0;
    let reads = 0;
    let fail = false;
    const stale: unknown[] = [];
    const odd: unknown[] = [];
    const view = createTenantView({
      registry: {
        list: async () => {
          reads++;
          if (fail) throw new Error('table down');
          return { records: [row(t1, 'active')], odd: reads === 1 ? [{ rowKey: 'x', problem: 'state: invalid' }] : [] };
        },
      },
      ttlMs: 30_000,
      now: () => now,
      onStale: (err) => stale.push(err),
      onOdd: (o) => odd.push(...o),
    });
    let downReads = 0;
    const down = createTenantView({ registry: { list: () => (downReads++, Promise.reject(new Error('down'))) }, now: () => now });
    await assert.rejects(down.records(), /down/);
    await assert.rejects(down.records(), /down/);
    assert.equal(downReads, 1, 'a table that never answered is tried once per TTL, not per lookup');
    const lookups = await Promise.all(Array.from({ length: 50 }, () => view.records()));
    assert.equal(reads, 1);
    assert.ok(lookups.every((l) => l.length === 1 && l[0]!.tenantId === t1));
    assert.equal(odd.length, 1, 'the odd row is reported, the good one kept');
    now = 29_999;
    await view.records();
    assert.equal(reads, 1);
    now = 30_000;
    fail = true;
    assert.equal((await view.records())[0]?.tenantId, t1, 'a failed read keeps the last list');
    assert.equal(stale.length, 1);
    await view.records();
    assert.equal(reads, 2, 'and does not read again before one more TTL');
  });
});

describe('secret references resolved at run time', () => {
  let pki: ServerPki;
  let server: ReturnType<typeof createServer>;
  let origin: string;
  const requests: Array<{ url: string; auth: string | undefined }> = [];
  let secretValue = 'first-authid-value-0123456789';
  const scopes: string[] = [];
  before(async () => {
    pki = await createServerPki();
    // A fake Key Vault: GET /secrets/{name}?api-version=7.4 with a bearer token -> {"value": ...}.
    server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (req, res) => {
      requests.push({ url: req.url ?? '', auth: req.headers.authorization });
      const url = new URL(req.url ?? '/', 'https://kv');
      if (req.headers.authorization !== 'Bearer kv-token') return void res.writeHead(401).end('{"error":{"code":"Unauthorized"}}');
      if (url.searchParams.get('api-version') !== '7.4') return void res.writeHead(400).end();
      if (url.pathname === '/secrets/tenant-authid') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: secretValue, id: 'x', attributes: {} }));
      if (url.pathname === '/secrets/no-value') return void res.writeHead(200).end('{"id":"x"}');
      res.writeHead(404).end('{"error":{"code":"SecretNotFound"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await pki.remove();
  });

  function resolver(token = 'kv-token', ttlMs = 60_000, clock = { now: 0 }) {
    const http = createHttpTransport({ ca: pki.caCertPem });
    // The vault's name resolves to the fake (as DNS would to the real one); TLS is checked against the test CA.
    const toFake = { ...http, agent: http.agent, close: http.close, request: (r: Parameters<typeof http.request>[0]) => http.request({ ...r, url: new URL(`${r.url.pathname}${r.url.search}`, origin) }) };
    return createSecretResolver({
      setting: (name) => {
        if (name !== 'TENANT_A_AUTH_ID') throw new Error(`${name} is not set`);
        return 'setting-authid-value-0123456789';
      },
      keyVault: () => ({ credential: { getToken: async (scope: string | string[]) => (scopes.push(String(scope)), { token, expiresOnTimestamp: Date.now() + 3_600_000 }) }, http: toFake }),
      ttlMs,
      now: () => clock.now,
    });
  }

  it('reads a setting name from the settings and a Key Vault URI from the vault, again after the TTL (a rotated secret, no restart)', async () => {
    const clock = { now: 0 };
    const r = resolver('kv-token', 60_000, clock);
    assert.equal(await r.resolve('TENANT_A_AUTH_ID'), 'setting-authid-value-0123456789');
    const uri = 'https://relay-kv.vault.azure.net/secrets/tenant-authid';
    assert.equal(await r.resolve(uri), 'first-authid-value-0123456789');
    assert.equal(requests.at(-1)?.url, '/secrets/tenant-authid?api-version=7.4');
    assert.equal(requests.at(-1)?.auth, 'Bearer kv-token');
    assert.equal(scopes.at(-1), 'https://vault.azure.net/.default', 'a token for Key Vault, not for the API');
    secretValue = 'rotated-authid-value-0123456789';
    assert.equal(await r.resolve(uri), 'first-authid-value-0123456789', 'cached within the TTL');
    clock.now = 60_000;
    assert.equal(await r.resolve(uri), 'rotated-authid-value-0123456789');
  });

  it('fails with the reference named and no value, for a missing secret, an answer without value, or a refused token', async () => {
    const r = resolver();
    await assert.rejects(r.resolve('https://relay-kv.vault.azure.net/secrets/missing'), /secrets\/missing: Key Vault answered HTTP 404/);
    await assert.rejects(r.resolve('https://relay-kv.vault.azure.net/secrets/no-value'), /has no value/);
    await assert.rejects(resolver('wrong').resolve('https://relay-kv.vault.azure.net/secrets/tenant-authid'), (err: Error) => /HTTP 401/.test(err.message) && !err.message.includes(secretValue));
    await assert.rejects(r.resolve('OTHER_SETTING'), /OTHER_SETTING is not set/);
    await assert.rejects(createSecretResolver({ setting: () => '' }).resolve('https://relay-kv.vault.azure.net/secrets/tenant-authid'), /need the app's identity/);
  });
});
