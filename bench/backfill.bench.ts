// node dist/bench/backfill.bench.js: a backfill of 7 days × 5 content types from the simulator with paging, through
// the real client (settings, identity credential, limiter, retry policy): time, request count and the busiest
// minute against the configured request budget, next to the same downloads with no budget (baseline, same run).
import { contentTypes } from '../shared/api/content-types';
import { createClientFromSettings } from '../shared/api/from-settings';
import { parseSettings } from '../shared/config';
import { decodeStream } from '../shared/records/decode-stream';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import { generateRecords } from '../dev/record-generator';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'backfill-bench-secret-value';
const blobsPerTypePerDay = Number(process.env.BENCH_BLOBS_PER_DAY ?? 12);
const budget = Number(process.env.BENCH_REQUESTS_PER_MINUTE ?? 600); // the app's default

interface Figures {
  blobs: number;
  records: number;
  requests: number;
  busiestMinute: number;
  seconds: number;
}

async function backfill(sim: Simulator, requestsPerMinute: number): Promise<Figures> {
  const settings = parseSettings({
    ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
    O365_REQUESTS_PER_MINUTE: String(requestsPerMinute),
  });
  const client = createClientFromSettings(settings.api);
  const before = sim.journal.length;
  const started = Date.now();
  let blobs = 0;
  let records = 0;
  try {
    const until = new Date();
    const since = new Date(until.getTime() - 7 * 86_400_000);
    for (const contentType of contentTypes) {
      for await (const listed of client.tenant(tenantId).listContentRange(contentType, { since, until })) {
        if (listed.kind === 'refused') throw new Error(`the simulator listed an item the client refused: ${listed.refused.reason}`);
        const { item } = listed;
        const body = await client.fetchContent(tenantId, item.contentId, { contentExpiration: item.contentExpiration });
        for await (const batch of decodeStream(body)) records += batch.records.length;
        blobs++;
      }
    }
  } finally {
    client.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const apiCalls = sim.journal.slice(before).filter((e) => e.direction === 'in' && e.path.includes('/activity/feed/'));
  const times = apiCalls.map((e) => Date.parse(e.time)).sort((a, b) => a - b);
  let busiestMinute = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= 60_000) j++;
    busiestMinute = Math.max(busiestMinute, i - j + 1);
  }
  return { blobs, records, requests: apiCalls.length, busiestMinute, seconds };
}

async function main(): Promise<void> {
  const sim = await startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }], pageSize: 20, startSpacingMinutes: 0, rateLimits: { perTenantPerMinute: 100_000, withoutPublisherPerMinute: 100_000 } });
  try {
    // 7 days back (inside the API's window, with its safety margin) up to now.
    const now = Date.now();
    let seed = 1;
    for (const contentType of contentTypes) {
      for (let i = 0; i < 7 * blobsPerTypePerDay; i++) {
        const contentCreated = new Date(now - 60 * 60_000 - i * Math.floor((6.9 * 86_400_000) / (7 * blobsPerTypePerDay)));
        const recs = [...generateRecords(20, { seed: seed++ })].map((r) => ({ ...r, OrganizationId: tenantId }));
        await sim.publish(tenantId, contentType, recs, { contentCreated });
      }
    }
    // Subscriptions must exist for the content to be listed.
    const starter = createClientFromSettings(
      parseSettings(simulatorClientSettings(sim, { tenantId, clientId, clientSecret })).api,
    );
    for (const contentType of contentTypes) await starter.tenant(tenantId).startSubscription(contentType);
    starter.close();

    console.log(`backfill of 7 days x ${contentTypes.length} content types, ${7 * blobsPerTypePerDay} blobs per type, page size 20 (node ${process.version})`);
    const unlimited = await backfill(sim, 2000); // the most the settings allow: the API's documented per-tenant figure
    const limited = await backfill(sim, budget);
    for (const [name, f] of [['baseline: budget 2000 requests/min', unlimited], [`budget ${budget} requests/min`, limited]] as const) {
      console.log(
        `${name.padEnd(30)} ${String(f.blobs).padStart(5)} blobs ${String(f.records).padStart(7)} records ${String(f.requests).padStart(6)} requests ` +
          `${f.seconds.toFixed(1).padStart(6)} s  busiest minute ${f.busiestMinute} requests`,
      );
    }
    console.log(`busiest minute under the budget: ${limited.busiestMinute <= budget ? 'yes' : 'NO'} (${limited.busiestMinute} <= ${budget})`);
  } finally {
    await sim.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
