// The per-tenant request buckets in Azure Table storage: one row per tenant (its own partition, so a thousand busy
// tenants never share a partition's throughput). Every change is read-decide-write under the row's ETag; a lost
// race (412, or 409 when two create the row) is counted and decided again, so the counts say how often instances
// collided over a tenant.
import type { TableClient } from '@azure/data-tables';
import { BucketState, decidePause, decideTake, type BudgetPolicy, type TakeDecision } from '../api/budget-bucket';
import type { BudgetStore } from '../api/shared-limiter';
import { isMissingRow, isMissingTable, StateStoreError, storeFailure, toStateStoreError } from './store-error';
import { tableOnce } from './table-once';
import { encodeKey } from './table-keys';

export const defaultBudgetTable = 'relaybudget';
const rowKey = 'bucket';
/** Lost races in a row before giving up (STATE_CONTENTION); with jitter between them this is a storm, not load. */
const maxRounds = 25;

export interface TableBudgetStats {
  /** Writes that went through, and those that lost the race to another instance (ETag or insert conflict). */
  writes: number;
  conflicts: number;
}

export interface TableBudgetStore extends BudgetStore {
  stats(): TableBudgetStats;
}

export function createTableBudgetStore(table: TableClient, random: () => number = Math.random): TableBudgetStore {
  const stats: TableBudgetStats = { writes: 0, conflicts: 0 };
  const created = tableOnce(table, 'create budget table');

  async function read(tenantId: string): Promise<{ state: BucketState; etag: string } | undefined> {
    try {
      const row = await table.getEntity(encodeKey(tenantId), rowKey);
      const parsed = BucketState.safeParse({ tokens: row.tokens, at: Number(row.at), pausedUntil: Number(row.pausedUntil) });
      if (!parsed.success) throw new StateStoreError('STATE_CORRUPT', `table storage: the request bucket of ${tenantId} has an unexpected shape`);
      return { state: parsed.data, etag: row.etag };
    } catch (err) {
      if (isMissingRow(err)) return undefined;
      throw err;
    }
  }

  /** Read, decide, write under the ETag; a lost race is counted and decided again after a short jittered pause. */
  async function change<T>(operation: string, tenantId: string, decide: (current: BucketState | undefined) => { result: T; next?: BucketState | undefined }): Promise<T> {
    await created.ensure();
    for (let round = 0; round < maxRounds; round++) {
      try {
        const current = await read(tenantId);
        const { result, next } = decide(current?.state);
        if (next === undefined) return result;
        const row = { partitionKey: encodeKey(tenantId), rowKey, tenantId, tokens: next.tokens, at: BigInt(next.at), pausedUntil: BigInt(next.pausedUntil) };
        if (current) await table.updateEntity(row, 'Replace', { etag: current.etag });
        else await table.createEntity(row);
        stats.writes++;
        return result;
      } catch (err) {
        if (err instanceof StateStoreError) throw err;
        const { status } = storeFailure(err);
        if (status !== 412 && status !== 409) {
          if (isMissingTable(err)) created.forget();
          throw toStateStoreError(operation, err);
        }
        stats.conflicts++;
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 10 * (round + 1))));
      }
    }
    throw new StateStoreError('STATE_CONTENTION', `table storage: ${operation} lost ${maxRounds} races in a row`);
  }

  return {
    take: (tenantId: string, want: number, policy: BudgetPolicy, now: number): Promise<TakeDecision> =>
      change('take request tokens', tenantId, (current) => {
        const decision = decideTake(current, want, policy, now);
        return { result: decision, next: decision.kind === 'granted' ? decision.next : undefined };
      }),
    pause: (tenantId: string, until: number, policy: BudgetPolicy, now: number): Promise<void> =>
      change('pause request budget', tenantId, (current) => ({ result: undefined, next: decidePause(current, until, policy, now) })),
    stats: () => ({ ...stats }),
  };
}

/** Each tenant's budget from the settings: its own O365_TENANTS entry, else O365_REQUESTS_PER_MINUTE. */
export function perMinuteFromSettings(settings: { api: { requestsPerMinute: number }; relay: { tenants: ReadonlyArray<{ tenantId: string; requestsPerMinute?: number | undefined }> } }): (tenantId: string) => number {
  const own = new Map(settings.relay.tenants.flatMap((t) => (t.requestsPerMinute === undefined ? [] : [[t.tenantId, t.requestsPerMinute] as const])));
  return (tenantId) => own.get(tenantId.toLowerCase()) ?? settings.api.requestsPerMinute;
}
