// A table-only deployment through the local stack: no O365_TENANT_ID, O365_TENANT_REGISTRY naming the table, one
// active registry tenant (and an odd row beside it). The app starts, the keeper subscribes the registry tenant,
// its content reaches the sink, health reports it, and the CLI's tenant-less commands work on it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/log';
import { createStorageAccount } from '../shared/state/storage-account';
import { demoTenantId, startLocalStack, type LocalStack } from '../dev/local-stack';
import { generateRecords, seededRandom } from '../dev/record-generator';
import { repoRoot } from './support/fixtures';
import { expectedSinkBlobName, sinkRecordIds } from './support/relay-observations';

const table = 'customertenants';
const oddTenant = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
let stack: LocalStack;

function run(args: string[], env: Record<string, string | undefined> = stack.settings): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...env }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  stack = await startLocalStack({
    port: 0,
    hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
    // O365_TENANT_ID blank: the stack keeps the demo tenant as an active row of the named table instead.
    overrides: { O365_TENANT_ID: '', O365_TENANT_REGISTRY: table, O365_CONTENT_TYPES: 'Audit.General', O365_BLOB_FORMAT: 'json', O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', O365_TENANT_CACHE_SECONDS: '1', O365_LOG_LEVEL: 'error' },
    simulator: { random: seededRandom(17), notifyRetryDelaysMs: [200, 400] },
    logger: createLogger({ level: 'error' }),
  });
  // A hand-edited row among the good one: ignored (logged once), the good one followed.
  await createStorageAccount({ kind: 'connectionString', connectionString: stack.azurite.connectionString }).table(table).createEntity({ partitionKey: 'tenant', rowKey: oddTenant, state: 'half-onboarded' });
});

after(async () => {
  await stack?.close();
});

describe('a deployment whose tenants are all in the registry table', () => {
  it('runs with no O365_TENANT_ID: the keeper subscribes the registry tenant and its content reaches the sink', async () => {
    assert.equal(stack.settings.O365_TENANT_ID, undefined);
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 });
    assert.deepEqual(stack.simulator.subscriptions(demoTenantId).map((s) => [s.contentType, s.status]), [['Audit.General', 'enabled']]);
    const content = await stack.simulator.publish(demoTenantId, 'Audit.General', [...generateRecords(4, { seed: 3 })].map((r) => ({ ...r, OrganizationId: demoTenantId })));
    await stack.simulator.flushNotifications();
    await stack.host.idle({ timeoutMs: 30_000 });
    assert.equal((await sinkRecordIds(stack.blobs, expectedSinkBlobName(demoTenantId, content)))?.length, 4);
    const health = (await (await fetch(`${stack.host.url}/api/health`)).json()) as { streams: Array<{ tenantId: string }> };
    assert.deepEqual(health.streams.map((s) => s.tenantId), [demoTenantId]);
  });

  it('the CLI\'s tenant-less commands work on the registry\'s active tenants', async () => {
    const listed = await run(['subscriptions', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${demoTenantId} Audit.General enabled`, 'm'));
    assert.doesNotMatch(listed.stdout, new RegExp(oddTenant));
    const unknown = await run(['content', 'list', '--since', '1h', '--tenant', oddTenant]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not one of the followed tenants/);
  });

  it('with neither O365_TENANT_ID nor O365_TENANT_REGISTRY the settings name O365_TENANT_ID', async () => {
    const r = await run(['subscriptions', 'list'], { ...stack.settings, O365_TENANT_REGISTRY: undefined });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /O365_TENANT_ID: is required \(or keep every tenant in the registry table: set O365_TENANT_REGISTRY\)/);
  });
});
