// The tenant registry on Azure Table storage (table relaytenants, one row per tenant, partition "tenant"), and
// the cached view the app reads it through: the whole list, kept for ttlMs, so the webhook's tenant check and the
// timers' planning cost one table query per TTL per instance however many tenants (or unknown callers) there are.
// Changes are ETag-guarded, like the ledger: read, decide (shared/pipeline/tenants.ts), replace under the ETag.
import type { TableClient } from '@azure/data-tables';
import { TenantRecord, type TenantAction, type TenantChange, applyAction } from '../pipeline/tenants';
export { defaultTenantTable } from '../pipeline/tenants';
import { isMissingRow, isMissingTable, storeFailure, toStateStoreError } from './store-error';
import { tableOnce } from './table-once';

const partition = 'tenant';

export interface TenantRegistry {
  readonly table: string;
  /** Every row; a row that does not parse is reported once per read in `odd`, the others are returned. */
  list(): Promise<{ records: TenantRecord[]; odd: Array<{ rowKey: string; problem: string }> }>;
  get(tenantId: string): Promise<TenantRecord | undefined>;
  /** Adds a row; false when the tenant already has one. */
  add(record: TenantRecord): Promise<boolean>;
  /** Applies an action under the row's ETag; the row after it, or why it is refused. */
  change(tenantId: string, action: TenantAction, now: Date): Promise<TenantChange>;
  /**
   * Replaces the row with what `apply` makes of it, under its ETag (If-Match): when another writer got there first,
   * the row is read again and `apply` decides again on it, so two admins' changes are both kept (or refused on the
   * row as it now is), never one silently lost.
   */
  edit(tenantId: string, apply: (current: TenantRecord) => TenantChange): Promise<TenantChange>;
}

function toRow(r: TenantRecord) {
  return {
    partitionKey: partition,
    rowKey: r.tenantId,
    displayName: r.displayName,
    cloud: r.cloud,
    contentTypes: JSON.stringify(r.contentTypes),
    sinks: JSON.stringify(r.sinks),
    ...(r.authIdRef === undefined ? {} : { authIdRef: r.authIdRef }),
    ...(Object.keys(r.sinkTokens).length === 0 ? {} : { sinkTokens: JSON.stringify(r.sinkTokens) }),
    state: r.state,
    added: r.added,
    changed: r.changed,
  };
}

function fromRow(row: Record<string, unknown>): ReturnType<typeof TenantRecord.safeParse> {
  const json = (v: unknown) => {
    try {
      return typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
    } catch {
      return v;
    }
  };
  return TenantRecord.safeParse({
    tenantId: row['rowKey'],
    displayName: row['displayName'],
    cloud: row['cloud'],
    contentTypes: json(row['contentTypes']),
    sinks: json(row['sinks']),
    ...(row['authIdRef'] === undefined ? {} : { authIdRef: row['authIdRef'] }),
    ...(row['sinkTokens'] === undefined ? {} : { sinkTokens: json(row['sinkTokens']) }),
    state: row['state'],
    added: row['added'],
    changed: row['changed'],
  });
}

export function createTenantRegistry(table: TableClient): TenantRegistry {
  const created = tableOnce(table);

  async function read(tenantId: string): Promise<{ record: TenantRecord; etag: string } | undefined> {
    try {
      const row = await table.getEntity<Record<string, unknown>>(partition, tenantId.toLowerCase());
      const parsed = fromRow(row);
      if (!parsed.success) throw new Error(`registry row ${tenantId} is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return { record: parsed.data, etag: row.etag };
    } catch (err) {
      if (isMissingRow(err) || isMissingTable(err)) return undefined;
      throw err;
    }
  }

  async function edit(tenantId: string, apply: (current: TenantRecord) => TenantChange): Promise<TenantChange> {
    for (let round = 0; round < 10; round++) {
      const current = await read(tenantId);
      if (current === undefined) return { ok: false, reason: `tenant ${tenantId} is not in table ${table.tableName}` };
      const next = apply(current.record);
      if (!next.ok) return next;
      try {
        await table.updateEntity(toRow(next.record), 'Replace', { etag: current.etag });
        return next;
      } catch (err) {
        if (storeFailure(err).status !== 412) throw toStateStoreError('change tenant', err);
      }
    }
    return { ok: false, reason: `tenant ${tenantId} kept changing under us: try again` };
  }

  return {
    table: table.tableName,
    async list() {
      const records: TenantRecord[] = [];
      const odd: Array<{ rowKey: string; problem: string }> = [];
      try {
        for await (const row of table.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${partition}'` } })) {
          const parsed = fromRow(row);
          if (parsed.success) records.push(parsed.data);
          else odd.push({ rowKey: String(row.rowKey), problem: parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ') });
        }
      } catch (err) {
        // No table yet: nobody has added a tenant, which is not an error for a settings-only setup.
        if (isMissingTable(err)) return { records: [], odd: [] };
        throw toStateStoreError('list tenants', err);
      }
      return { records, odd };
    },
    async get(tenantId) {
      return (await read(tenantId))?.record;
    },
    async add(record) {
      await created.ensure();
      try {
        await table.createEntity(toRow(record));
        return true;
      } catch (err) {
        if (storeFailure(err).status === 409) return false;
        throw toStateStoreError('add tenant', err);
      }
    },
    async change(tenantId, action, now) {
      return edit(tenantId, (current) => applyAction(current, action, now));
    },
    edit,
  };
}

export interface TenantView {
  /** The registry's rows, at most ttlMs old. A failed refresh keeps the last good list (and rethrows if none). */
  records(): Promise<readonly TenantRecord[]>;
  /** The last list read, without waiting (empty before the first read). */
  peek(): readonly TenantRecord[];
}

export function createTenantView(options: {
  registry: Pick<TenantRegistry, 'list'>;
  ttlMs?: number;
  now?: () => number;
  onOdd?: (odd: Array<{ rowKey: string; problem: string }>) => void;
  onStale?: (err: unknown) => void;
}): TenantView {
  const ttlMs = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  let last: { records: readonly TenantRecord[]; at: number } | undefined;
  let inflight: Promise<readonly TenantRecord[]> | undefined;
  /** A first read that failed: the same error for one TTL, so a table outage costs one read per TTL, not one per call. */
  let failed: { err: unknown; at: number } | undefined;
  const refresh = () =>
    (inflight ??= options.registry
      .list()
      .then(({ records, odd }) => {
        if (odd.length > 0) options.onOdd?.(odd);
        last = { records, at: now() };
        return records;
      })
      .catch((err: unknown) => {
        if (last === undefined) {
          failed = { err, at: now() };
          throw err;
        }
        options.onStale?.(err);
        last = { records: last.records, at: now() }; // try again after one TTL, not on every call
        return last.records;
      })
      .finally(() => {
        inflight = undefined;
      }));
  return {
    records: async () => {
      if (last !== undefined && now() - last.at < ttlMs) return last.records;
      if (last === undefined && failed !== undefined && now() - failed.at < ttlMs) throw failed.err;
      return refresh();
    },
    peek: () => last?.records ?? [],
  };
}
