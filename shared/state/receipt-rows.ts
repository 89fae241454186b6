// The ledger rows a completeness receipt reads: one tenant's content rows whose day instant (createdAt:
// contentCreated, or first sight) falls in a range. A row that does not parse costs only itself: it is counted,
// and the receipt says the tenant cannot be proven complete, instead of the report failing.
import type { TableClient } from '@azure/data-tables';
import type { ReceiptBlob } from '../pipeline/receipt';
import { contentFromRow, contentPartition } from './ledger-rows';
import { toStateStoreError } from './store-error';
import { odataString } from './table-keys';

export async function readReceiptRows(table: TableClient, tenantId: string, from: Date, until: Date): Promise<{ blobs: ReceiptBlob[]; unreadable: number }> {
  const filter = `PartitionKey eq ${odataString(contentPartition(tenantId))}` +
    ` and createdAt ge datetime'${from.toISOString()}' and createdAt le datetime'${until.toISOString()}'`;
  const blobs: ReceiptBlob[] = [];
  let unreadable = 0;
  try {
    for await (const row of table.listEntities({ queryOptions: { filter } })) {
      try {
        const { entry, createdAt } = contentFromRow(row);
        blobs.push({ entry, createdAt });
      } catch {
        unreadable++;
      }
    }
  } catch (err) {
    throw toStateStoreError('read ledger for the receipt', err);
  }
  return { blobs, unreadable };
}
