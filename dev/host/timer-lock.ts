// The timer singleton: several hosts sharing one storage account fire each timer occurrence once, as Azure's
// hosts do with a blob lease (`azure-webjobs-hosts/locks/<hostId>/Host.Functions.<name>.Listener`). Each host asks
// for the lease when an occurrence is due; the one that gets it fires, the others see it held and skip. The lease
// lasts `leaseSeconds` (15-60, the service's range) and is not released, so a host whose clock fires a little
// later still finds it held; the host that holds it renews it on its next occurrence with its own lease id.
import { randomUUID } from 'node:crypto';
import type { BlobServiceClient } from '@azure/storage-blob';
import { errorFields, type Logger } from '../../shared/log';

export const LOCK_CONTAINER = 'azure-webjobs-hosts';

export interface TimerLock {
  /** True when this host holds the function's lease now (acquired or renewed): it should fire. */
  claim(): Promise<boolean>;
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** A host id the way Functions derives one when `AzureFunctionsWebHost__hostid` is unset: lower-case, ≤ 32 chars. */
export function defaultHostId(appName: string): string {
  return appName.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 32) || 'dev-host';
}

export function blobTimerLock(service: BlobServiceClient, hostId: string, functionName: string, logger: Logger, leaseSeconds = 15): TimerLock {
  const container = service.getContainerClient(LOCK_CONTAINER);
  const blob = container.getBlockBlobClient(`locks/${hostId}/Host.Functions.${functionName}.Listener`);
  const leaseId = randomUUID();
  const lease = blob.getBlobLeaseClient(leaseId);
  let created = false;
  async function ensureBlob(): Promise<void> {
    if (created) return;
    await container.createIfNotExists();
    try {
      await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (err) {
      // 409/412: another host created it first; a leased blob answers 412 too.
      if (statusOf(err) !== 409 && statusOf(err) !== 412) throw err;
    }
    created = true;
  }
  return {
    async claim() {
      try {
        await ensureBlob();
        await lease.acquireLease(leaseSeconds);
        return true;
      } catch (err) {
        if (statusOf(err) !== 409) {
          // Storage trouble: firing twice is better than never (the app's own plans are idempotent).
          logger.warn('timer lock unavailable; firing without it', { function: functionName, ...errorFields(err) });
          return true;
        }
      }
      try {
        await lease.renewLease(); // we hold it from an earlier occurrence (acquire answers 409 to a live lease with another id only)
        return true;
      } catch {
        return false; // another host holds it: that host fires this occurrence
      }
    },
  };
}
