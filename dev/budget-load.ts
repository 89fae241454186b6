// Load on the shared request budget: several "instances" (each its own TableClient, bucket store and limiter, as
// separate processes would have) with several callers each, all taking tokens for one tenant from one Azurite
// table as fast as the budget lets them. Shared by test/request-budget.test.ts and bench/request-budget.bench.ts.
import { TableClient } from '@azure/data-tables';
import { systemClock } from '../shared/api/clock';
import { createSharedLimiter, type SharedLimiter } from '../shared/api/shared-limiter';
import { createTableBudgetStore, type TableBudgetStore } from '../shared/state/table-budget';

export interface BudgetLoadOptions {
  connectionString: string;
  tableName: string;
  tenantId: string;
  perMinute: number;
  instances: number;
  callersPerInstance: number;
  durationMs: number;
}

export interface BudgetLoad {
  /** When each token was spent (epoch ms), all instances together. */
  spent: number[];
  writes: number;
  conflicts: number;
  blocks: number;
  granted: number;
  dropped: number;
}

export interface BudgetInstance {
  limiter: SharedLimiter;
  store: TableBudgetStore;
}

export function budgetInstance(connectionString: string, tableName: string, perMinute: number): BudgetInstance {
  const table = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
  const store = createTableBudgetStore(table);
  return { store, limiter: createSharedLimiter({ store, perMinuteOf: () => perMinute, clock: systemClock }) };
}

export async function runBudgetLoad(options: BudgetLoadOptions): Promise<BudgetLoad> {
  const instances = Array.from({ length: options.instances }, () => budgetInstance(options.connectionString, options.tableName, options.perMinute));
  const spent: number[] = [];
  const end = Date.now() + options.durationMs;
  await Promise.all(instances.flatMap(({ limiter }) =>
    Array.from({ length: options.callersPerInstance }, async () => {
      for (;;) {
        // The deadline is the run's end: a token that would come later is refused, not waited for.
        try {
          await limiter.acquire(options.tenantId, { deadline: end });
        } catch {
          return;
        }
        const at = Date.now();
        if (at >= end) return;
        spent.push(at);
      }
    })));
  const sum = (pick: (i: BudgetInstance) => number) => instances.reduce((n, i) => n + pick(i), 0);
  return {
    spent: spent.sort((a, b) => a - b),
    writes: sum((i) => i.store.stats().writes),
    conflicts: sum((i) => i.store.stats().conflicts),
    blocks: sum((i) => i.limiter.stats().blocks),
    granted: sum((i) => i.limiter.stats().granted),
    dropped: sum((i) => i.limiter.stats().dropped),
  };
}

/** The most instants (sorted) inside any window of `windowMs`. */
export function busiestWindow(sorted: readonly number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}
