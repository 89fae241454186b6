// The Ledger on Azure Table storage. Every read-modify-write is optimistic: read the row with its ETag, decide
// the new row with a pure function (ledger-rows.ts), then Replace under that ETag, or insert when the row was
// absent. A 412 (someone wrote in between) or 409 (someone inserted first) means: read again and decide again.
// So of two workers claiming the same blob at once exactly one wins; the other then sees the live claim.
import { TableClient } from '@azure/data-tables';
import type { ContentType } from '../api/content-types';
import type { ContentKey, ContentMessage } from '../pipeline/content-message';
import type { ClaimResult, ContentEntry, ContentState, Ledger, RefusedEntry, SinkProgress } from '../pipeline/ledger';
import {
  contentFromRow, contentPartition, contentPartitionPrefix, contentRowKey, contentToRow, decideClaim, decideFinish,
  decideLease, decideProgress, decideRelease, decideRenew, leaseFromRow, leasePartition, leaseToRow, newContent, refusedContent,
  planFromStream, streamFromRow, streamPartition, streamToRow, streamWithPlan, type StoredContent, type StreamState, type TableRow,
} from './ledger-rows';
import { decideAdvancePlan, decideOpenPlan } from '../pipeline/reconcile-plan';
import { isMissingRow, isMissingTable, StateStoreError, storeFailure, toStateStoreError } from './store-error';
import { encodeKey, odataString } from './table-keys';

export const defaultLedgerTable = 'relayledger';

export type TableLedgerOptions = (
  | { tableClient: TableClient }
  | { connectionString: string; tableName?: string }
) & {
  /** For rows whose contentCreated cannot be parsed (purge then counts from first sight). Default Date.now. */
  clock?: () => number;
  /** Parallel requests for markSeen / known / purge. Default 8. */
  concurrency?: number;
};

export interface TableLedger extends Ledger {
  /** Creates the table if missing; every operation awaits it first, so calling it is optional. */
  ensureTable(): Promise<void>;
}

/** Rounds of read-decide-write before giving up with STATE_CONTENTION (retryable). */
const maxRounds = 10;
/** Table storage allows at most 15 comparisons in one filter: the PartitionKey and 14 RowKeys. */
const rowKeysPerQuery = 14;

type Stored<S> = { value: S; etag: string };

export function createTableLedger(options: TableLedgerOptions): TableLedger {
  const table = 'tableClient' in options ? options.tableClient : tableClientFrom(options.connectionString, options.tableName ?? defaultLedgerTable);
  const clock = options.clock ?? Date.now;
  const concurrency = options.concurrency ?? 8;

  let ready: Promise<void> | undefined;
  function ensureTable(): Promise<void> {
    // createTable already treats 409 TableAlreadyExists as success; a failure is forgotten so the next call retries.
    ready ??= table.createTable().catch((err: unknown) => {
      ready = undefined;
      throw toStateStoreError('create table', err);
    });
    return ready;
  }

  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    await ensureTable();
    try {
      return await run();
    } catch (err) {
      if (isMissingTable(err)) ready = undefined;
      throw toStateStoreError(operation, err);
    }
  }

  async function read<S>(operation: string, pk: string, rk: string, parse: (row: unknown) => S): Promise<Stored<S> | undefined> {
    const row = await call(operation, async () => {
      try {
        return await table.getEntity(pk, rk);
      } catch (err) {
        if (isMissingRow(err)) return undefined;
        throw err;
      }
    });
    return row && { value: parse(row), etag: row.etag };
  }

  /** The optimistic loop: read with ETag, decide, write guarded; on a lost race read and decide again. */
  async function mutate<S, T>(
    operation: string, pk: string, rk: string,
    parse: (row: unknown) => S, toRow: (value: S) => TableRow,
    decide: (current: S | undefined) => { result: T; next?: S | undefined },
  ): Promise<T> {
    for (let round = 0; round < maxRounds; round++) {
      const current = await read(operation, pk, rk, parse);
      const { result, next } = decide(current?.value);
      if (next === undefined) return result;
      const row = toRow(next);
      const lostRace = await call(operation, async () => {
        try {
          if (current) await table.updateEntity(row, 'Replace', { etag: current.etag });
          else await table.createEntity(row);
          return false;
        } catch (err) {
          const { status } = storeFailure(err);
          // 412: changed since read; 409: inserted since read; 404 (the row's): deleted since read (purge).
          if (status === 412 || status === 409 || isMissingRow(err)) return true;
          throw err;
        }
      });
      if (!lostRace) return result;
    }
    throw new StateStoreError('STATE_CONTENTION', `table storage: ${operation} lost ${maxRounds} races in a row`);
  }

  const mutateContent = <T>(operation: string, key: ContentKey, decide: (current: StoredContent | undefined) => { result: T; next?: StoredContent | undefined }) =>
    mutate(operation, contentPartition(key.tenantId), contentRowKey(key.contentId), contentFromRow, contentToRow, decide);

  const mutateStream = (operation: string, tenantId: string, contentType: ContentType, change: (s: StreamState) => StreamState) =>
    mutate(operation, streamPartition(tenantId), encodeKey(contentType), streamFromRow, (s) => streamToRow(tenantId, contentType, s),
      (current) => ({ result: undefined, next: change(current ?? {}) }));

  /** A stream-row change that may decide to write nothing; the result says whether it wrote. */
  const mutateStreamIf = (operation: string, tenantId: string, contentType: ContentType, change: (s: StreamState) => StreamState | undefined) =>
    mutate(operation, streamPartition(tenantId), encodeKey(contentType), streamFromRow, (s) => streamToRow(tenantId, contentType, s),
      (current) => {
        const next = change(current ?? {});
        return { result: next !== undefined, next };
      });

  const readStream = async (tenantId: string, contentType: ContentType) =>
    (await read('read stream', streamPartition(tenantId), encodeKey(contentType), streamFromRow))?.value;

  /** Inserts each row unless its key exists; returns the items whose row was new. */
  async function insertAbsent<T>(operation: string, items: readonly T[], toStored: (item: T) => StoredContent): Promise<T[]> {
    const fresh = await mapLimited(items, concurrency, (item) =>
      call(operation, async () => {
        try {
          await table.createEntity(contentToRow(toStored(item)));
          return true;
        } catch (err) {
          if (storeFailure(err).status === 409) return false; // known already: insert-if-absent
          throw err;
        }
      }));
    return items.filter((_, i) => fresh[i]);
  }

  const markSeen = (messages: readonly ContentMessage[]) => insertAbsent('mark seen', messages, (m) => newContent(m, clock()));
  const markRefused = (entries: readonly RefusedEntry[]) => insertAbsent('mark refused', entries, (e) => refusedContent(e, clock()));

  async function countRefused(tenantId: string, contentType: ContentType, cap: number): Promise<number> {
    const filter = `PartitionKey eq ${odataString(contentPartition(tenantId))} and state eq 'refused' and contentType eq ${odataString(contentType)}`;
    return call('count refused', async () => {
      let count = 0;
      for await (const _row of table.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) if (++count >= cap) break;
      return count;
    });
  }

  async function known(tenantId: string, contentIds: readonly string[]): Promise<Set<string>> {
    const byKey = new Map(contentIds.map((id) => [contentRowKey(id), id]));
    const keys = [...byKey.keys()];
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += rowKeysPerQuery) chunks.push(keys.slice(i, i + rowKeysPerQuery));
    const found = new Set<string>();
    await mapLimited(chunks, concurrency, (chunk) =>
      call('list known', async () => {
        const filter = `PartitionKey eq ${odataString(contentPartition(tenantId))} and (${chunk.map((k) => `RowKey eq ${odataString(k)}`).join(' or ')})`;
        for await (const row of table.listEntities({ queryOptions: { filter, select: ['RowKey'] } })) {
          const id = byKey.get(row.rowKey ?? '');
          if (id !== undefined) found.add(id);
        }
      }));
    return found;
  }

  async function purge(before: Date): Promise<number> {
    const filter = `PartitionKey ge ${odataString(contentPartitionPrefix)} and PartitionKey lt ${odataString(nextPrefix(contentPartitionPrefix))}` +
      ` and createdAt lt datetime'${before.toISOString()}'`;
    const doomed = await call('list purge', async () => {
      const rows: Array<{ pk: string; rk: string }> = [];
      for await (const row of table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })) {
        rows.push({ pk: row.partitionKey ?? '', rk: row.rowKey ?? '' });
      }
      return rows;
    });
    const deleted = await mapLimited(doomed, concurrency, ({ pk, rk }) =>
      call('purge', async () => {
        try {
          await table.deleteEntity(pk, rk);
          return true;
        } catch (err) {
          if (isMissingRow(err)) return false; // purged concurrently
          throw err;
        }
      }));
    return deleted.filter(Boolean).length;
  }

  return {
    ensureTable,
    markSeen,
    markRefused,
    countRefused,
    known,
    get: async (key: ContentKey): Promise<ContentEntry | undefined> =>
      (await read('get content', contentPartition(key.tenantId), contentRowKey(key.contentId), contentFromRow))?.value.entry,
    claim: (message: ContentMessage, owner: string, leaseMs: number, now: number): Promise<ClaimResult> =>
      mutateContent('claim', message, (current) => decideClaim(current, message, owner, leaseMs, now)),
    renewClaim: (key: ContentKey, owner: string, leaseMs: number, now: number) =>
      mutateContent('renew claim', key, (current) => decideRenew(current, owner, leaseMs, now)),
    recordProgress: (key: ContentKey, owner: string, sink: string, progress: SinkProgress) =>
      mutateContent('record progress', key, (current) => decideProgress(current, key, owner, sink, progress)),
    finish: (key: ContentKey, owner: string, state: Exclude<ContentState, 'enqueued'>, detail?: string) =>
      mutateContent('finish', key, (current) => decideFinish(current, key, owner, state, detail)),
    release: (key: ContentKey, owner: string) =>
      mutateContent('release', key, (current) => decideRelease(current, owner)),

    getCursor: async (tenantId, contentType) => (await readStream(tenantId, contentType))?.cursor,
    setCursor: (tenantId, contentType, cursor) => mutateStream('set cursor', tenantId, contentType, (s) => ({ ...s, cursor })),
    getLastStart: async (tenantId, contentType) => (await readStream(tenantId, contentType))?.lastStart,
    setLastStart: (tenantId, contentType, at) => mutateStream('set last start', tenantId, contentType, (s) => ({ ...s, lastStart: at })),
    // Notifications can arrive out of order from several instances: the stored instant only moves forward.
    setLastNotification: (tenantId, contentType, at) =>
      mutateStream('set last notification', tenantId, contentType, (s) => (s.lastNotification && s.lastNotification >= at ? s : { ...s, lastNotification: at })),
    getStream: async (tenantId, contentType) => (await readStream(tenantId, contentType)) ?? {},

    acquireLease: (name, owner, leaseMs, now) =>
      mutate('acquire lease', leasePartition, encodeKey(name), leaseFromRow, (l) => leaseToRow(name, l),
        (current) => decideLease(current, owner, leaseMs, now)),
    releaseLease: (name, owner) =>
      mutate('release lease', leasePartition, encodeKey(name), leaseFromRow, (l) => leaseToRow(name, l),
        (current) => ({ result: undefined, next: current?.owner === owner ? { owner: '', until: 0 } : undefined })),

    purge,

    // Fan-out reconcile plans (reconcile-plan.ts), kept in the stream row beside the cursor.
    openPlan: (tenantId, contentType, planId, now) =>
      mutateStreamIf('open plan', tenantId, contentType, (s) => {
        const plan = decideOpenPlan(planFromStream(s), planId, now);
        return plan && streamWithPlan(s, plan);
      }),
    getPlan: async (tenantId, contentType) => {
      const s = await readStream(tenantId, contentType);
      return s && planFromStream(s);
    },
    advancePlan: (tenantId, contentType, planId, step, cursor, done, now) =>
      mutateStreamIf('advance plan', tenantId, contentType, (s) => {
        const plan = decideAdvancePlan(planFromStream(s), planId, step, done, now);
        return plan && { ...streamWithPlan(s, plan), cursor };
      }),
  };
}

/** A connection string that names an http endpoint (Azurite) says so itself; data-tables wants it confirmed. */
function tableClientFrom(connectionString: string, tableName: string): TableClient {
  const insecure = /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http|TableEndpoint\s*=\s*http:)\s*(;|$|\/)/i.test(connectionString);
  try {
    return TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: insecure });
  } catch {
    // The SDK's message may quote the connection string; ours does not.
    throw new StateStoreError('STATE_REJECTED', 'table storage: the connection string cannot be parsed');
  }
}

/** The smallest string greater than every string starting with `prefix` (for a PartitionKey range). */
const nextPrefix = (prefix: string): string => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

/** `run` over `items` with at most `limit` in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
