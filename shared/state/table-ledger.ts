// The Ledger on Azure Table storage. Every read-modify-write is optimistic: read the row with its ETag, decide
// the new row with a pure function (ledger-rows.ts), then Replace under that ETag, or insert when the row was
// absent. A 412 (someone wrote in between) or 409 (someone inserted first) means: read again and decide again.
// So of two workers claiming the same blob at once exactly one wins; the other then sees the live claim.
import { TableClient } from '@azure/data-tables';
import type { ContentType } from '../api/content-types';
import type { ContentKey, ContentMessage } from '../pipeline/content-message';
import type { BlobEnd, ClaimResult, ContentEntry, ContentState, Ledger, OddStreamRow, PurgeOptions, RefusedEntry, SinkProgress, StreamRecord } from '../pipeline/ledger';
import type { SubscriptionSnapshot } from '../pipeline/subscription-state';
import {
  contentFromRow, contentPartition, contentRowKey, contentToRow, decideClaim, decideFinish,
  decideLease, decideProgress, decideRelease, decideRenew, leaseFromRow, leasePartition, leaseToRow, newContent, refusedContent,
  planFromStream, streamFromRow, streamPartition, streamPartitionPrefix, streamRecordFromRow, streamToRow, streamWithPlan, type StoredContent, type StreamState, type TableRow,
  dayOf, expiryFromRow, expiryPartitionPrefix, expiryRow, subscriptionPartition, subscriptionSnapshotFromRow, subscriptionSnapshotToRow,
} from './ledger-rows';
import { decideAdvancePlan, decideOpenPlan } from '../pipeline/reconcile-plan';
import { isMissingRow, isMissingTable, StateStoreError, storeFailure, toStateStoreError } from './store-error';
import { encodeKey, odataString } from './table-keys';
import { createRowMemory } from './row-memory';
import { tableOnce } from './table-once';
import { mapLimited } from '../map-limited';
import { withRefused } from '../pipeline/refused-count';

export const defaultLedgerTable = 'relayledger';

export type TableLedgerOptions = (
  | { tableClient: TableClient }
  | { connectionString: string; tableName?: string }
) & {
  /** For rows whose contentCreated cannot be parsed (purge then counts from first sight). Default Date.now. */
  clock?: () => number;
  /** Parallel requests for markSeen / known / purge. Default 8. */
  concurrency?: number;
  /** Rows remembered with their ETags to write without reading first (row-memory.ts). Default 4,096. */
  rememberedRows?: number;
};

export interface TableLedger extends Ledger {
  /** Creates the table if missing; every operation awaits it first, so calling it is optional. */
  ensureTable(): Promise<void>;
}

/** Rounds of read-decide-write before giving up with STATE_CONTENTION (retryable). */
const maxRounds = 10;
/** Table storage takes at most 100 operations in one transaction (entity group), all in one partition. */
const purgeBatch = 100;
const defaultPurgeRows = 50_000;

type Stored<S> = { value: S; etag: string };

export function createTableLedger(options: TableLedgerOptions): TableLedger {
  const table = 'tableClient' in options ? options.tableClient : tableClientFrom(options.connectionString, options.tableName ?? defaultLedgerTable);
  const clock = options.clock ?? Date.now;
  const concurrency = options.concurrency ?? 8;

  const created = tableOnce(table);
  const memory = createRowMemory(options.rememberedRows ?? 4096);

  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    await created.ensure();
    try {
      return await run();
    } catch (err) {
      if (isMissingTable(err)) created.forget();
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
    if (!row) return undefined;
    const stored = { value: parse(row), etag: row.etag };
    memory.set(pk, rk, stored);
    return stored;
  }

  /**
   * The optimistic loop: take the row as last read or written here (else read it) with its ETag, decide, write
   * guarded; on a lost race read and decide again. A decision to write nothing is only taken on a fresh read: a
   * remembered row is proven current by a successful guarded write, never by itself.
   */
  async function mutate<S, T>(
    operation: string, pk: string, rk: string,
    parse: (row: unknown) => S, toRow: (value: S) => TableRow,
    decide: (current: S | undefined) => { result: T; next?: S | undefined },
    /** Runs before a row is created (not replaced): the purge index goes in first. */
    beforeCreate?: (next: S) => Promise<void>,
  ): Promise<T> {
    // The memory holds what `parse` made for this key (one row kind per key), hence the cast.
    let remembered = memory.get(pk, rk) as Stored<S> | undefined;
    for (let round = 0; round < maxRounds; round++) {
      let current = remembered ?? (await read(operation, pk, rk, parse));
      let decision = decide(current?.value);
      if (remembered && decision.next === undefined) {
        current = await read(operation, pk, rk, parse);
        decision = decide(current?.value);
      }
      remembered = undefined;
      const { result, next } = decision;
      if (next === undefined) return result;
      if (!current && beforeCreate) await beforeCreate(next);
      const row = toRow(next);
      const written = await call(operation, async () => {
        try {
          const answer = current ? await table.updateEntity(row, 'Replace', { etag: current.etag }) : await table.createEntity(row);
          return { etag: answer.etag };
        } catch (err) {
          const { status } = storeFailure(err);
          // 412: changed since read; 409: inserted since read; 404 (the row's): deleted since read (purge).
          if (status === 412 || status === 409 || isMissingRow(err)) return undefined;
          throw err;
        }
      });
      if (written) {
        if (written.etag) memory.set(pk, rk, { value: next, etag: written.etag });
        return result;
      }
      if (current) memory.forget(pk, rk, current.etag);
    }
    throw new StateStoreError('STATE_CONTENTION', `table storage: ${operation} lost ${maxRounds} races in a row`);
  }

  const mutateContent = <T>(operation: string, key: ContentKey, decide: (current: StoredContent | undefined) => { result: T; next?: StoredContent | undefined }) =>
    mutate(operation, contentPartition(key.tenantId), contentRowKey(key.contentId), contentFromRow, contentToRow, decide,
      (next) => indexForPurge([next]));

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
    const stored = items.map(toStored);
    await indexForPurge(stored);
    const fresh = await mapLimited(stored, concurrency, (row) =>
      call(operation, async () => {
        try {
          const { etag } = await table.createEntity(contentToRow(row));
          if (etag) memory.set(contentPartition(row.entry.tenantId), contentRowKey(row.entry.contentId), { value: row, etag });
          return true;
        } catch (err) {
          if (storeFailure(err).status === 409) return false; // known already: insert-if-absent
          throw err;
        }
      }));
    await mapLimited(stored.filter((_, i) => !fresh[i]), concurrency, reindexKnown);
    return items.filter((_, i) => fresh[i]);
  }

  /**
   * An item that was known already got an index row for its own day; if the stored row counts from another day
   * (a different contentCreated for the same id), that index row would purge it early: index the stored row's day
   * instead. Rare (callers ask `known` first), and it also indexes rows written before the index existed.
   */
  async function reindexKnown(ours: StoredContent): Promise<void> {
    let existing: Stored<StoredContent> | undefined;
    try {
      existing = await read('check purge index', contentPartition(ours.entry.tenantId), contentRowKey(ours.entry.contentId), contentFromRow);
    } catch (err) {
      if (err instanceof StateStoreError && err.code === 'STATE_CORRUPT') return; // an odd row costs only itself
      throw err;
    }
    if (!existing) return; // purged meanwhile: our index row stands for nothing, which purge skips
    const mine = expiryRow(ours);
    const theirs = expiryRow(existing.value);
    if (mine.partitionKey === theirs.partitionKey) return;
    await call('index for purge', () => table.upsertEntity(theirs, 'Replace'));
    await deleteBatch([{ pk: mine.partitionKey, rk: mine.rowKey }]);
  }

  const markSeen = (messages: readonly ContentMessage[]) => insertAbsent('mark seen', messages, (m) => newContent(m, clock()));
  /** Inserts the refused entries unless known, then adds the new ones to their stream rows' refused count. */
  async function markRefused(entries: readonly RefusedEntry[]): Promise<RefusedEntry[]> {
    const recorded = await insertAbsent('mark refused', entries, (e) => refusedContent(e, clock()));
    const byStream = new Map<string, { tenantId: string; contentType: ContentType; added: number }>();
    for (const { tenantId, contentType } of recorded) {
      const key = JSON.stringify([tenantId, contentType]);
      byStream.set(key, { tenantId, contentType, added: (byStream.get(key)?.added ?? 0) + 1 });
    }
    for (const { tenantId, contentType, added } of byStream.values()) {
      const at = new Date(clock());
      await mutateStream('count refused', tenantId, contentType, (s) => withRefused(s, added, at));
    }
    return recorded;
  }

  /** Every stream row, a page (up to 1,000 rows) per request, each row parsed on its own. */
  const allStreams = (): Promise<{ streams: StreamRecord[]; odd: OddStreamRow[] }> =>
    call('read streams', async () => {
      const streams: StreamRecord[] = [];
      const odd: OddStreamRow[] = [];
      const filter = `PartitionKey ge ${odataString(streamPartitionPrefix)} and PartitionKey lt ${odataString(nextPrefix(streamPartitionPrefix))}`;
      for await (const page of table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: 1000 })) {
        for (const row of page) {
          const read = streamRecordFromRow(row);
          if (read.ok) streams.push(read.record);
          else odd.push(read.odd);
        }
      }
      return { streams, odd };
    });

  /**
   * What the last `known` read of each tenant found for the receipt's `listed` flag, so markListed right after it
   * (the reconciler's order) writes only the rows not flagged yet without reading them again. Ids it lacks (another
   * run read in between) are read once more; a stale `false` only costs one idempotent Merge.
   */
  const listedSeen = new Map<string, Map<string, boolean>>();

  async function markListed(tenantId: string, contentIds: readonly string[]): Promise<number> {
    const seen = listedSeen.get(tenantId);
    const unread = contentIds.filter((id) => seen?.get(id) === undefined);
    const reread = unread.length > 0 ? await readListed(tenantId, unread) : new Map<string, boolean>();
    const toFlag = contentIds.filter((id) => (seen?.get(id) ?? reread.get(id)) === false);
    const flagged = await mapLimited(toFlag, concurrency, (contentId) =>
      call('mark listed', async () => {
        try {
          // Merge, unguarded: it only adds a column, and a worker's guarded Replace re-reads it on its 412.
          await table.updateEntity({ partitionKey: contentPartition(tenantId), rowKey: contentRowKey(contentId), listed: true }, 'Merge', { etag: '*' });
          seen?.set(contentId, true);
          return true;
        } catch (err) {
          if (isMissingRow(err)) return false; // purged meanwhile
          throw err;
        }
      }));
    return flagged.filter(Boolean).length;
  }

  async function known(tenantId: string, contentIds: readonly string[]): Promise<Set<string>> {
    const listed = await readListed(tenantId, contentIds);
    listedSeen.set(tenantId, listed);
    return new Set(listed.keys());
  }

  /**
   * The known ids among `contentIds` with their `listed` flag: a point read each. Not a query naming several
   * RowKeys: Table storage runs `RowKey eq a or RowKey eq b` as a scan of the whole partition (Microsoft, "Design
   * for querying"), and a busy tenant's content partition holds a week of blobs.
   */
  async function readListed(tenantId: string, contentIds: readonly string[]): Promise<Map<string, boolean>> {
    const found = new Map<string, boolean>();
    await mapLimited([...new Set(contentIds)], concurrency, (contentId) =>
      call('list known', async () => {
        try {
          const row = await table.getEntity(contentPartition(tenantId), contentRowKey(contentId), { queryOptions: { select: ['listed'] } });
          found.set(contentId, row['listed'] === true);
        } catch (err) {
          if (!isMissingRow(err)) throw err;
        }
      }));
    return found;
  }

  // ---- purge by tenant and day (the index rows of ledger-rows.ts), in batches of at most 100 ----

  /** Upserts the index rows of `stored` content, one transaction per tenant-day of up to 100 (idempotent). */
  async function indexForPurge(stored: readonly StoredContent[]): Promise<void> {
    const batches = inBatches(stored.map(expiryRow), (row) => row.partitionKey);
    await mapLimited(batches, concurrency, (rows) =>
      call('index for purge', () => table.submitTransaction(rows.map((row) => ['upsert', row, 'Replace'] as const))));
  }

  /** Deletes rows of one partition in one transaction; if one is gone already (a concurrent purge), one by one. */
  async function deleteBatch(keys: ReadonlyArray<{ pk: string; rk: string }>): Promise<number> {
    if (keys.length === 0) return 0;
    const together = await call('purge', async () => {
      try {
        await table.submitTransaction(keys.map(({ pk, rk }) => ['delete', { partitionKey: pk, rowKey: rk }] as const));
        return true;
      } catch (err) {
        if (isMissingRow(err)) return false;
        throw err;
      }
    });
    if (together) return keys.length;
    const one = await mapLimited(keys, concurrency, ({ pk, rk }) =>
      call('purge', async () => {
        try {
          await table.deleteEntity(pk, rk);
          return true;
        } catch (err) {
          if (isMissingRow(err)) return false;
          throw err;
        }
      }));
    return one.filter(Boolean).length;
  }

  async function purge(before: Date, options: PurgeOptions = {}): Promise<number> {
    const maxRows = options.maxRows ?? defaultPurgeRows;
    // Only index partitions up to the cut's day are read: whole earlier days, and the cut's own day by createdAt.
    const filter = `PartitionKey ge ${odataString(expiryPartitionPrefix)} and PartitionKey lt ${odataString(nextPrefix(`${expiryPartitionPrefix}${dayOf(before)}:`))}` +
      ` and createdAt lt datetime'${before.toISOString()}'`;
    let deleted = 0;
    let taken = 0; // index rows handled, the bound (some may stand for content already gone)
    while (taken < maxRows) {
      const page = await call('list purge', async () => {
        const rows: ReturnType<typeof expiryFromRow>[] = [];
        const pages = table.listEntities({ queryOptions: { filter, select: ['PartitionKey', 'RowKey', 'tenantId'] } }).byPage({ maxPageSize: purgeBatch });
        for await (const got of pages) {
          for (const row of got) rows.push(expiryFromRow(row));
          if (rows.length > 0) break; // an empty page with a continuation: read on
        }
        return rows.slice(0, Math.min(purgeBatch, maxRows - taken));
      });
      if (page.length === 0) break;
      taken += page.length;
      // Content first: a crash between leaves index rows whose content is gone, which the next purge skips.
      for (const keys of inBatches(page.map((r) => r.content), (k) => k.pk)) deleted += await deleteBatch(keys);
      for (const keys of inBatches(page.map((r) => r.index), (k) => k.pk)) await deleteBatch(keys);
    }
    return deleted;
  }

  // ---- the keeper's subscription state (one row per tenant) ----

  const setSubscriptionSnapshot = (snapshot: SubscriptionSnapshot): Promise<void> =>
    // The newest look wins: a snapshot is whole, never merged, so a plain upsert is right.
    call('store subscription state', async () => {
      await table.upsertEntity(subscriptionSnapshotToRow(snapshot), 'Replace');
    });

  const subscriptionSnapshots = (): Promise<Map<string, SubscriptionSnapshot>> =>
    call('read subscription state', async () => {
      const found = new Map<string, SubscriptionSnapshot>();
      const filter = `PartitionKey eq ${odataString(subscriptionPartition)}`;
      for await (const row of table.listEntities({ queryOptions: { filter } })) {
        const snapshot = subscriptionSnapshotFromRow(row);
        found.set(snapshot.tenantId, snapshot);
      }
      return found;
    });

  return {
    ensureTable: created.ensure,
    markSeen,
    markRefused,
    markListed,
    known,
    get: async (key: ContentKey): Promise<ContentEntry | undefined> =>
      (await read('get content', contentPartition(key.tenantId), contentRowKey(key.contentId), contentFromRow))?.value.entry,
    claim: (message: ContentMessage, owner: string, leaseMs: number, now: number): Promise<ClaimResult> =>
      mutateContent('claim', message, (current) => decideClaim(current, message, owner, leaseMs, now)),
    renewClaim: (key: ContentKey, owner: string, leaseMs: number, now: number) =>
      mutateContent('renew claim', key, (current) => decideRenew(current, owner, leaseMs, now)),
    recordProgress: (key: ContentKey, owner: string, sink: string, progress: SinkProgress) =>
      mutateContent('record progress', key, (current) => decideProgress(current, key, owner, sink, progress)),
    finish: (key: ContentKey, owner: string, state: Exclude<ContentState, 'enqueued'>, end: BlobEnd = {}) =>
      mutateContent('finish', key, (current) => decideFinish(current, key, owner, state, end)),
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
    allStreams,

    acquireLease: (name, owner, leaseMs, now) =>
      mutate('acquire lease', leasePartition, encodeKey(name), leaseFromRow, (l) => leaseToRow(name, l),
        (current) => decideLease(current, owner, leaseMs, now)),
    releaseLease: (name, owner) =>
      mutate('release lease', leasePartition, encodeKey(name), leaseFromRow, (l) => leaseToRow(name, l),
        (current) => ({ result: undefined, next: current?.owner === owner ? { owner: '', until: 0 } : undefined })),

    purge,
    setSubscriptionSnapshot,
    subscriptionSnapshots,

    // Fan-out reconcile plans (reconcile-plan.ts), kept in the stream row beside the cursor.
    openPlan: (tenantId, contentType, planId, now) =>
      mutateStreamIf('open plan', tenantId, contentType, (s) => {
        const plan = decideOpenPlan(planFromStream(s), planId, now);
        return plan && streamWithPlan(s, plan);
      }),
    readPlan: async (tenantId, contentType) => {
      const s = await readStream(tenantId, contentType);
      return { plan: s && planFromStream(s), cursor: s?.cursor };
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

/** Groups `items` by `key` (e.g. the partition) into runs of at most `purgeBatch`, the most one transaction takes. */
function inBatches<T extends { rowKey: string } | { rk: string }>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  const batches: T[][] = [];
  for (const group of groups.values()) {
    // One transaction must not name the same row twice (a duplicate in one markSeen call).
    const unique = [...new Map(group.map((item) => ['rowKey' in item ? item.rowKey : item.rk, item])).values()];
    for (let i = 0; i < unique.length; i += purgeBatch) batches.push(unique.slice(i, i + purgeBatch));
  }
  return batches;
}
