// `npm run simulator`: the simulator with one demo tenant, fixture content published, and the settings a
// client needs printed. Ctrl-C closes it. Options: --port <n>, --publish-every <seconds> (new generated
// content on a timer, so webhook notifications keep flowing).
import { rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateRecords } from './generated-records.js';
import { ContentTypeSchema, contentTypes } from './request-shapes.js';
import { simulatorClientSettings } from './client-settings.js';
import { startSimulator } from './simulator.js';

const demoTenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const demoClientId = '676e8273-3c93-4205-910f-614bb4396a55';
// A demo value, printed on purpose: it unlocks nothing but this local simulator.
const demoSecret = 'o365-simulator-demo-secret-not-a-real-credential';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' }, 'publish-every': { type: 'string' } } });
  const sim = await startSimulator({
    tenants: [{ tenantId: demoTenantId, apps: [{ clientId: demoClientId, clientSecret: demoSecret }] }],
    port: values.port === undefined ? 0 : Number(values.port),
  });

  // dist/dev/simulator → repo root → its sibling `shared/fixtures/content` (read-only reference material).
  const repoRoot = path.resolve(__dirname, '..', '..', '..');
  const fixtureDir = path.join(repoRoot, '..', 'shared', 'fixtures', 'content');
  const published: string[] = [];
  const files = await readdir(fixtureDir).catch(() => [] as string[]);
  for (const file of files.sort()) {
    const contentType = ContentTypeSchema.safeParse(path.basename(file, '.json'));
    if (!file.endsWith('.json') || !contentType.success) continue;
    const item = await sim.publishFile(demoTenantId, contentType.data, path.join(fixtureDir, file));
    published.push(`${item.contentType}  ${item.contentId}  (fixture ${file})`);
  }
  if (published.length === 0) {
    for (const contentType of contentTypes) {
      const item = await sim.publish(demoTenantId, contentType, generateRecords(demoTenantId, contentType, 5, new Date()));
      published.push(`${item.contentType}  ${item.contentId}  (5 generated records)`);
    }
  }

  const every = Number(values['publish-every'] ?? 0);
  const timer =
    every > 0
      ? setInterval(() => {
          for (const contentType of contentTypes) void sim.publish(demoTenantId, contentType, generateRecords(demoTenantId, contentType, 3, new Date()));
        }, every * 1000)
      : undefined;

  const out = (line = '') => process.stdout.write(line + '\n');
  out('Office 365 Management Activity API simulator (local, test CA, demo tenant)');
  out(`  base URL        ${sim.baseUrl}`);
  out(`  API root        ${sim.apiRoot(demoTenantId)}`);
  out(`  authority host  ${sim.authorityHost}   (token: POST /${demoTenantId}/oauth2/v2.0/token, scope https://manage.office.com/.default)`);
  out(`  CA file         ${sim.caCertPath}   (removed when the simulator stops)`);
  out(`  tenant          ${demoTenantId}`);
  out(`  client id       ${demoClientId}`);
  out(`  client secret   ${demoSecret}   (a demo value for this simulator only, hence printed)`);
  out();
  const settings = simulatorClientSettings(sim, { tenantId: demoTenantId, clientId: demoClientId, clientSecret: demoSecret });
  // The same settings as a file to `source` in another terminal (removed again when the simulator stops).
  const envFile = path.join(repoRoot, '.simulator.env');
  writeFileSync(envFile, Object.entries(settings).map(([k, v]) => `export ${k}=${v}`).join('\n') + '\n');
  out('As settings for this project (also written to .simulator.env: `source .simulator.env` in another terminal):');
  out(`  ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  out();
  out('Published content (listed once a subscription for its content type is started):');
  for (const line of published) out(`  ${line}`);
  if (timer) out(`Publishing generated content every ${every} s.`);
  out('Ctrl-C stops the simulator.');

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    rmSync(envFile, { force: true });
    void sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
