// `o365-relay tenants set` through the CLI against Azurite (the registry table) and the simulator (the API, for the
// subscriptions of content types taken away): a set that changes sinks, a token reference and content types; a
// set on a removed tenant refused; bad values refused with the flag named, no value echoed and nothing written;
// an odd row beside the edited one costing only itself; two admins' concurrent sets both kept (ETag, If-Match).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { contentTypes } from '../shared/api/content-types';
import { applyEdit, TenantRecord, type TenantEdit } from '../shared/pipeline/tenants';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTenantRegistry, defaultTenantTable, type TenantRegistry } from '../shared/state/tenant-registry';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import { repoRoot } from './support/fixtures';

const home = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const tenantB = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const tenantGone = '22222222-2222-4222-8222-222222222222';
const oddTenant = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = randomBytes(24).toString('base64url');
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
const at = '2026-01-01T00:00:00.000Z';

let azurite: RunningAzurite;
let sim: Simulator;
let env: Record<string, string | undefined>;
let table: TableClient;
let registry: TenantRegistry;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const row = (tenantId: string, changes: Partial<TenantRecord> = {}): TenantRecord =>
  TenantRecord.parse({ tenantId, displayName: 'Fabrikam', cloud: 'Enterprise', contentTypes: ['Audit.General', 'Audit.Exchange'], sinks: ['archive', 'siem'], sinkTokens: { siem: 'TENANT_B_SIEM' }, state: 'active', added: at, changed: at, ...changes });
/** The stored entity as it is, ETag included: "nothing written" means this did not change. */
const stored = async (tenantId: string) => {
  const { timestamp: _t, ...entity } = await table.getEntity<Record<string, unknown>>('tenant', tenantId);
  return entity;
};

before(async () => {
  azurite = await startAzurite({ table: true, blob: false, queue: false });
  sim = await startSimulator({ tenants: [{ tenantId: home, apps: [{ clientId, clientSecret }] }, { tenantId: tenantB, apps: [{ clientId, clientSecret }] }] });
  env = {
    PATH: process.env.PATH,
    ...simulatorClientSettings(sim, { tenantId: home, clientId, clientSecret }),
    AzureWebJobsStorage: azurite.connectionString,
    O365_CONTENT_TYPES: 'Audit.General,Audit.Exchange',
    SIEM_TOKEN: randomBytes(18).toString('base64url'),
    HEC_TOKEN: randomBytes(18).toString('base64url'),
    TENANT_B_SIEM: randomBytes(18).toString('base64url'),
    TENANT_B_HEC: randomBytes(18).toString('base64url'),
    SHORT_AUTH_ID: 'short',
    TENANT_B_AUTH_ID: randomBytes(24).toString('base64url'),
    O365_SINKS: JSON.stringify([
      { kind: 'blob', name: 'archive', container: 'archive' },
      { kind: 'https-json', name: 'siem', url: 'https://siem.example/ingest', tokenSetting: 'SIEM_TOKEN' },
      { kind: 'splunk-hec', name: 'hec', url: 'https://hec.example:8088', tokenSetting: 'HEC_TOKEN' },
    ]),
  };
  table = createStorageAccount({ kind: 'connectionString', connectionString: azurite.connectionString }).table(defaultTenantTable);
  registry = createTenantRegistry(table);
  assert.ok(await registry.add(row(tenantB)));
  assert.ok(await registry.add(row(tenantGone, { state: 'removed' })));
  // A hand-edited row beside the good ones: it costs only itself.
  await table.createEntity({ partitionKey: 'tenant', rowKey: oddTenant, state: 'half-onboarded', contentTypes: '[not json' });
  // The keeper's work for tenant B, done by hand: both its types subscribed.
  const started = await run(['subscriptions', 'start', '--tenant', tenantB]);
  assert.equal(started.code, 0, started.stdout + started.stderr);
  assert.deepEqual(sim.subscriptions(tenantB).map((s) => [s.contentType, s.status]).sort(), [['Audit.Exchange', 'enabled'], ['Audit.General', 'enabled']]);
});

after(async () => {
  await sim?.close();
  await azurite?.close();
});

describe('applyEdit (pure)', () => {
  it('changes only the fields given, keeps identity, state and added, and checks the result with the row schema', () => {
    const edits: fc.Arbitrary<TenantEdit> = fc.record(
      {
        displayName: fc.string({ minLength: 1, maxLength: 20 }),
        contentTypes: fc.uniqueArray(fc.constantFrom(...contentTypes), { minLength: 1 }),
        sinks: fc.uniqueArray(fc.constantFrom('archive', 'siem', 'hec'), { minLength: 1 }),
        authIdRef: fc.constantFrom('TENANT_B_AUTH_ID', null),
        sinkTokens: fc.dictionary(fc.constantFrom('siem', 'hec'), fc.constantFrom('TENANT_B_HEC', 'https://kv1.vault.azure.net/secrets/b', null)),
      },
      { requiredKeys: [] },
    );
    const now = new Date('2026-03-01T00:00:00.000Z');
    fc.assert(
      fc.property(edits, fc.constantFrom<TenantRecord['state']>('onboarding', 'active', 'paused'), (edit, state) => {
        const before = row(tenantB, { state, authIdRef: 'TENANT_B_AUTH_ID' });
        const result = applyEdit(before, edit, now);
        const tokens = { ...before.sinkTokens, ...edit.sinkTokens };
        const sinks = edit.sinks ?? before.sinks;
        const strayToken = Object.entries(tokens).some(([sink, ref]) => ref !== null && !sinks.includes(sink));
        assert.equal(result.ok, !strayToken, JSON.stringify(edit));
        if (!result.ok) return void assert.match(result.reason, /sinkTokens\.\w+: sink \w+ is not one of the tenant's sinks/);
        const r = result.record;
        assert.deepEqual([r.tenantId, r.state, r.added, r.cloud, r.changed], [before.tenantId, state, at, 'Enterprise', now.toISOString()]);
        assert.equal(r.displayName, edit.displayName ?? before.displayName);
        assert.deepEqual(r.contentTypes, edit.contentTypes ?? before.contentTypes);
        assert.deepEqual(r.sinks, sinks);
        assert.equal(r.authIdRef, edit.authIdRef === undefined ? before.authIdRef : (edit.authIdRef ?? undefined));
        assert.deepEqual(r.sinkTokens, Object.fromEntries(Object.entries(tokens).filter(([, ref]) => ref !== null)));
      }),
    );
    assert.match(applyEdit(row(tenantB, { state: 'removed' }), { displayName: 'x' }, now).ok ? '' : 'refused', /refused/);
  });
});

describe('o365-relay tenants set', () => {
  it('changes sinks and a token reference (never echoed), sets changed and keeps added; the odd row beside it costs only itself', async () => {
    const vaultRef = 'https://kv1.vault.azure.net/secrets/tenant-b-hec';
    const r = await run(['tenants', 'set', '--tenant', tenantB, '--name', 'Fabrikam EU', '--sink', 'archive', '--sink', 'hec', '--sink-token', `hec=${vaultRef}`, '--no-sink-token', 'siem']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${tenantB} active: changed displayName, sinks, sinkTokens\\(hec,siem\\)$`, 'm'));
    assert.ok(!(r.stdout + r.stderr).includes(vaultRef), 'the reference is not echoed');
    const after = await registry.get(tenantB);
    assert.equal(after?.displayName, 'Fabrikam EU');
    assert.deepEqual(after?.sinks, ['archive', 'hec']);
    assert.deepEqual(after?.sinkTokens, { hec: vaultRef });
    assert.equal(after?.added, at);
    assert.ok(after !== undefined && after.changed > at, 'changed is set');
    assert.deepEqual(after?.contentTypes, ['Audit.General', 'Audit.Exchange'], 'what was not given stays');
    assert.equal((await registry.list()).odd.length, 1, 'the odd row is still there, untouched');
  });

  it('content types: a new type is left to the keeper, a type taken away has its subscription stopped now', async () => {
    const r = await run(['tenants', 'set', '--tenant', tenantB, '--content-type', 'Audit.General,DLP.All']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /DLP\.All: the keeper starts these subscriptions at its next run/);
    assert.match(r.stdout, new RegExp(`^${tenantB} Audit\\.Exchange stopped$`, 'm'));
    assert.deepEqual((await registry.get(tenantB))?.contentTypes, ['Audit.General', 'DLP.All']);
    const subscriptions = Object.fromEntries(sim.subscriptions(tenantB).map((s) => [s.contentType, s.status]));
    assert.deepEqual(subscriptions, { 'Audit.General': 'enabled', 'Audit.Exchange': 'disabled' }, 'only the type taken away is stopped; the new one waits for the keeper');
  });

  it('refuses a removed tenant, an unknown one, a settings tenant and the odd row, writing nothing', async () => {
    const gone = await stored(tenantGone);
    const removed = await run(['tenants', 'set', '--tenant', tenantGone, '--name', 'Back']);
    assert.equal(removed.code, 1);
    assert.match(removed.stderr, /tenant 22222222-2222-4222-8222-222222222222 is removed: add it again instead/);
    assert.deepEqual(await stored(tenantGone), gone);
    const unknown = await run(['tenants', 'set', '--tenant', '33333333-3333-4333-8333-333333333333', '--name', 'X']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /is not in table relaytenants/);
    const settingsTenant = await run(['tenants', 'set', '--tenant', home, '--name', 'X']);
    assert.equal(settingsTenant.code, 1);
    assert.match(settingsTenant.stderr, /followed through O365_TENANT_ID: change the settings/);
    const odd = await stored(oddTenant);
    const oddSet = await run(['tenants', 'set', '--tenant', oddTenant, '--name', 'X']);
    assert.equal(oddSet.code, 1);
    assert.match(oddSet.stderr, /registry row 0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6 is not valid/);
    assert.doesNotMatch(oddSet.stderr, /\n\s+at /, 'a clear error, not a stack trace');
    assert.deepEqual(await stored(oddTenant), odd);
    assert.equal((await run(['tenants', 'set', '--tenant', tenantB])).code, 1, 'nothing to change is a usage error');
  });

  it('refuses each bad value with its flag named, never the value, and writes nothing (the good flags beside it neither)', async () => {
    const pasted = randomBytes(18).toString('base64url');
    const cases: Array<[string[], RegExp]> = [
      [['--sink', 'nope'], /--sink: "nope" is not a sink of O365_SINKS \(O365_SINKS has archive, siem, hec\)/],
      [['--sink-token', 'archive=TENANT_B_HEC'], /--sink-token: archive: this blob sink sends no token/],
      [['--sink-token', `hec=${pasted} x`], /--sink-token: hec: the reference must be a setting name or a Key Vault secret URI/],
      [['--sink-token', pasted], /--sink-token: write SINK=REFERENCE with SINK a sink of O365_SINKS/],
      [['--sink-token', `hec=UNSET_${pasted.replace(/\W/g, '')}`], /--sink-token: hec: the setting it names is not set/],
      [['--auth-id-ref', 'SHORT_AUTH_ID'], /--auth-id-ref: the setting it names must hold an authId of at least 16 characters/],
      [['--auth-id-ref', `${pasted}!`], /--auth-id-ref: must be a setting name or a Key Vault secret URI/],
      [['--auth-id-ref', 'TENANT_B_AUTH_ID', '--no-auth-id-ref'], /--auth-id-ref: give --auth-id-ref or --no-auth-id-ref, not both/],
      [['--sink-token', 'hec=TENANT_B_HEC', '--no-sink-token', 'hec'], /--no-sink-token: hec: give --sink-token or --no-sink-token for it, not both/],
      [['--content-type', 'Audit.Nope'], /--content-type Audit\.Nope: expected one of/],
      [['--name', ' '], /--name: must not be empty/],
      [['--no-sink-token', `hec=${pasted}`], /--no-sink-token: expects a sink name only/],
      // Valid flags, but the row they make breaks the row's rule: hec's token would be for a sink it is not routed to.
      [['--sink', 'archive'], /sinkTokens\.hec: sink hec is not one of the tenant's sinks \(archive\)/],
    ];
    for (const [flags, expected] of cases) {
      const before = await stored(tenantB);
      // A good change beside the bad one: refused together, the edit is one item.
      const r = await run(['tenants', 'set', '--tenant', tenantB, '--name', 'Changed', ...flags]);
      assert.equal(r.code, 1, `${flags.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, expected, flags.join(' '));
      assert.ok(!(r.stdout + r.stderr).includes(pasted), `${flags.join(' ')}: the value is not echoed`);
      assert.deepEqual(await stored(tenantB), before, `${flags.join(' ')}: nothing written`);
    }
  });

  it('keeps both of two edits that meet: the second writer reads again under the new ETag and applies its change there', async () => {
    // Deterministic: another admin's write lands between this edit's read and its write (If-Match then fails, 412).
    let interposed = false;
    const meeting = new Proxy(table, {
      get(target, key, receiver) {
        if (key !== 'updateEntity') return Reflect.get(target, key, receiver) as unknown;
        return async (...args: Parameters<TableClient['updateEntity']>) => {
          if (!interposed) {
            interposed = true;
            assert.ok((await registry.edit(tenantB, (current) => applyEdit(current, { displayName: 'Interloper' }, new Date()))).ok);
          }
          return target.updateEntity(...args);
        };
      },
    });
    let rounds = 0;
    const result = await createTenantRegistry(meeting).edit(tenantB, (current) => {
      rounds++;
      return applyEdit(current, { authIdRef: 'TENANT_B_AUTH_ID' }, new Date());
    });
    assert.equal(result.ok, true);
    assert.equal(rounds, 2, 'the first write was refused (412) and the edit applied again to the row as the other admin left it');
    const both = await registry.get(tenantB);
    assert.equal(both?.authIdRef, 'TENANT_B_AUTH_ID');
    assert.equal(both?.displayName, 'Interloper');

    // Through the CLI: two admins at once, on different fields; both exit 0 and both changes are in the row.
    for (let i = 0; i < 3; i++) {
      const [a, b] = await Promise.all([
        run(['tenants', 'set', '--tenant', tenantB, '--name', `Admin A ${i}`]),
        run(['tenants', 'set', '--tenant', tenantB, '--sink', 'archive', '--sink', 'hec', '--sink', 'siem', '--sink-token', i % 2 === 0 ? 'siem=TENANT_B_SIEM' : 'siem=https://kv1.vault.azure.net/secrets/b-siem']),
      ]);
      assert.equal(a.code, 0, a.stdout + a.stderr);
      assert.equal(b.code, 0, b.stdout + b.stderr);
      const row = await registry.get(tenantB);
      assert.equal(row?.displayName, `Admin A ${i}`);
      assert.equal(row?.sinkTokens.siem, i % 2 === 0 ? 'TENANT_B_SIEM' : 'https://kv1.vault.azure.net/secrets/b-siem');
      assert.equal(row?.authIdRef, 'TENANT_B_AUTH_ID', 'an earlier change nobody touched stays');
    }
  });
});
