// `npm start`: the local stack on its demo defaults. It subscribes (through the real subscription keeper and
// the webhook handshake), publishes the fixture content (as the configured tenant's), and prints each line as it
// lands in the blob sink, and a line for everything refused, dead-lettered, expired or poisoned as it happens.
// Environment settings override the demo's. Ctrl-C stops everything.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { createLogger } from '../shared/log';
import { generateRecords } from './record-generator';
import { demoTenantId, repoRoot, startLocalStack } from './local-stack';
import { watchLoss } from './loss-watch';

const overrideNames = /^(O365_|AzureWebJobsStorage$)/;

async function main(): Promise<void> {
  const overrides = Object.fromEntries(Object.entries(process.env).filter(([name]) => overrideNames.test(name)));
  const logger = createLogger({ level: process.env.O365_LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
  const stack = await startLocalStack({ port: Number(process.env.PORT ?? 7071), overrides, logger });
  const out = (text: string) => process.stdout.write(text + '\n');
  out(`o365-audit-relay running locally
  Functions host   ${stack.host.url}/api/notifications  (functions: ${stack.host.functions.map((f) => f.name).join(', ')})
  API simulator    ${stack.simulator.baseUrl}  (demo tenant ${stack.tenantId})
  Azurite          in memory; blob sink container ${stack.blobs.containerName}
Subscribing (webhook handshake), then publishing content; each delivered line follows, and a [bracketed] line
for anything refused, dead-lettered, expired or poisoned. Ctrl-C stops.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(poller);
    await stack.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  // Print what the blob sink holds, blob by blob, as it arrives.
  const printed = new Set<string>();
  const poll = async () => {
    if (!(await stack.blobs.exists())) return;
    for await (const blob of stack.blobs.listBlobsFlat()) {
      if (printed.has(blob.name)) continue;
      printed.add(blob.name);
      const text = (await stack.blobs.getBlockBlobClient(blob.name).downloadToBuffer()).toString('utf8');
      process.stdout.write(text);
    }
  };
  const loss = watchLoss(stack.azurite.connectionString, (line) => process.stderr.write(line + '\n'));
  const poller = setInterval(() => {
    void poll().catch((err: unknown) => logger.warn('blob poll failed', { error: String(err) }));
    void loss.poll().catch((err: unknown) => logger.warn('loss poll failed', { error: String(err) }));
  }, 500);

  await stack.host.fireTimer('subscriptionKeeper');
  await stack.host.idle({ timeoutMs: 60_000 }); // the timer plans; keepTenant (a queue function) starts the subscriptions
  const fixtures = path.join(repoRoot, '..', 'shared', 'fixtures', 'content');
  const files = (await readdir(fixtures).catch(() => [] as string[])).filter((f) => f.endsWith('.json'));
  for (const contentType of contentTypes) {
    const file = files.find((f) => f === `${contentType}.json`);
    if (file) await stack.simulator.publish(stack.tenantId, contentType, asTenant(JSON.parse(await readFile(path.join(fixtures, file), 'utf8')), stack.tenantId));
    else await stack.simulator.publish(stack.tenantId, contentType as ContentType, [...generateRecords(5)].map((r) => ({ ...r, OrganizationId: stack.tenantId })));
  }
}

/** The fixtures are the demo tenant's records; with O365_TENANT_ID set they become that tenant's, as a real blob would be. */
function asTenant(records: unknown, tenantId: string): unknown[] {
  if (!Array.isArray(records)) throw new Error('a fixture content file is not a JSON array of records');
  return records.map((r: unknown) =>
    r !== null && typeof r === 'object' && (r as { OrganizationId?: unknown }).OrganizationId === demoTenantId ? { ...r, OrganizationId: tenantId } : r,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`o365-relay start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
