// node dist/bench/request-budget.bench.js [--instances 8] [--callers 4] [--per-minute 1800] [--seconds 70]
// Several instances (each its own table client, bucket store and limiter) take tokens for one tenant from one
// in-process Azurite as fast as the shared budget allows. Prints one JSON line: the busiest 60 s window against
// the budget, the share of the budget used, block writes and ETag conflicts (rate = conflicts / write attempts).
import { parseArgs } from 'node:util';
import { budgetPolicy } from '../shared/api/budget-bucket';
import { startAzurite } from '../dev/azurite';
import { busiestWindow, runBudgetLoad } from '../dev/budget-load';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '8' },
    callers: { type: 'string', default: '4' },
    'per-minute': { type: 'string', default: '1800' },
    seconds: { type: 'string', default: '70' },
  },
});
const instances = Number(values.instances);
const callersPerInstance = Number(values.callers);
const perMinute = Number(values['per-minute']);
const durationMs = Number(values.seconds) * 1000;

async function main(): Promise<void> {
  const azurite = await startAzurite({ blob: false, queue: false, table: true });
  try {
    const load = await runBudgetLoad({
      connectionString: azurite.connectionString, tableName: 'budgetbench', tenantId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
      perMinute, instances, callersPerInstance, durationMs,
    });
    const policy = budgetPolicy(perMinute);
    const busiestMinute = busiestWindow(load.spent, 60_000);
    const attempts = load.writes + load.conflicts;
    process.stdout.write(JSON.stringify({
      instances, callers: instances * callersPerInstance, perMinute, seconds: durationMs / 1000,
      requests: load.spent.length,
      busiestMinute,
      overBudget: busiestMinute > perMinute,
      // The steady rate the bucket allows, against which "used" is measured.
      possible: Math.floor(policy.capacity + policy.ratePerMs * durationMs),
      usedOfPossible: Number((load.spent.length / (policy.capacity + policy.ratePerMs * durationMs)).toFixed(3)),
      blocks: load.blocks,
      requestsPerBlock: Number((load.granted / Math.max(1, load.blocks)).toFixed(1)),
      writes: load.writes,
      conflicts: load.conflicts,
      conflictRate: Number((load.conflicts / Math.max(1, attempts)).toFixed(3)),
      storageOpsPerRequest: Number(((2 * attempts) / Math.max(1, load.spent.length)).toFixed(3)),
      droppedTokens: load.dropped,
    }) + '\n');
  } finally {
    await azurite.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
