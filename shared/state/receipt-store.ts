// Where final days' completeness receipts are kept: one blob per tenant and day, `{tenant}/{yyyy-MM-dd}.json`,
// written once (If-None-Match: *) with the SHA-256 of its bytes as metadata. The ledger forgets after 8 days;
// these do not, and a later run never replaces one: it reports the stored digest instead.
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { DayReceipt } from '../pipeline/receipt';
import type { StoredDay } from '../pipeline/receipt-formats';
import { storeFailure, toStateStoreError } from './store-error';

export const receiptContainerName = 'o365-receipts';

export const receiptBlobName = (tenantId: string, day: string): string => `${tenantId}/${day}.json`;

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export async function keepDayReceipt(container: ContainerClient, receipt: DayReceipt): Promise<StoredDay> {
  const name = receiptBlobName(receipt.tenantId, receipt.day);
  const body = Buffer.from(JSON.stringify(receipt, null, 2) + '\n', 'utf8');
  const sha256 = sha256Hex(body);
  const blob = container.getBlockBlobClient(name);
  try {
    await blob.upload(body, body.byteLength, {
      conditions: { ifNoneMatch: '*' },
      metadata: { sha256 },
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return { tenantId: receipt.tenantId, day: receipt.day, blob: `${receiptContainerName}/${name}`, sha256, written: true };
  } catch (err) {
    const { status } = storeFailure(err);
    if (status !== 409 && status !== 412) throw toStateStoreError('write receipt', err);
  }
  // Already kept: its digest is taken from its bytes, not trusted from metadata alone.
  const stored = await blob.downloadToBuffer().catch((err: unknown) => {
    throw toStateStoreError('read receipt', err);
  });
  return { tenantId: receipt.tenantId, day: receipt.day, blob: `${receiptContainerName}/${name}`, sha256: sha256Hex(stored), written: false };
}
