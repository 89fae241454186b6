// Child process of record-size-cap.test.ts: the content worker over a blob holding a ~45 MB record among good
// ones, streamed in 64 KiB chunks (never built whole here either), with the real ledger and dead letter (Azurite,
// O365_TEST_STORAGE). Prints one JSON line: the outcome, the ids the sink received and the peak memory growth
// (heap + buffers, measured after a forced gc every few chunks), so the parent judges a process of its own.
import { BlobServiceClient } from '@azure/storage-blob';
import { generateRecords } from '../../dev/record-generator';
import { processContent } from '../../shared/pipeline/process-content';
import type { DecodedRecord } from '../../shared/records/decode';
import { createBlobDeadLetter } from '../../shared/sinks/blob-dead-letter';
import type { Sink } from '../../shared/sinks/sink';
import { createTableLedger } from '../../shared/state/table-ledger';
import { workerDeps } from './worker-deps';

const exposedGc = (globalThis as { gc?: () => void }).gc;
if (!exposedGc) throw new Error('run with --expose-gc');
const gc: () => void = exposedGc;
const storage = process.env.O365_TEST_STORAGE ?? '';
const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const bigBytes = Number(process.env.O365_TEST_BIG_BYTES ?? 45 * 1024 * 1024);
const chunkBytes = 64 * 1024;

const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function main(): Promise<void> {
  const good = [...generateRecords(40, { seed: 45 })].map((r) => ({ ...r, OrganizationId: tenantId }) as Record<string, unknown>);
  const head = `{"Id":"huge","OrganizationId":"${tenantId}","RecordType":1,"Blob":"`;
  const tail = '"}';
  const bigSize = Buffer.byteLength(head) + bigBytes + Buffer.byteLength(tail);
  const bigOffset = Buffer.byteLength(`[${good.slice(0, 20).map((r) => `${JSON.stringify(r)},`).join('')}`);
  let chunks = 0;
  let baseline = 0;
  let peak = 0;
  const sample = () => {
    if (++chunks % 16 !== 0) return;
    gc();
    peak = Math.max(peak, used() - baseline);
  };
  async function* body(): AsyncGenerator<Buffer> {
    yield Buffer.from(`[${good.slice(0, 20).map((r) => `${JSON.stringify(r)},`).join('')}${head}`);
    for (let left = bigBytes; left > 0; left -= chunkBytes) {
      yield Buffer.alloc(Math.min(chunkBytes, left), 'x');
      sample();
    }
    yield Buffer.from(`${tail},${good.slice(20).map((r) => JSON.stringify(r)).join(',')}]`);
  }
  const received: string[] = [];
  const sink: Sink = {
    name: 'counting',
    open: async () => {
      let accepted = 0;
      return {
        write: async (records: readonly DecodedRecord[]) => {
          for (const r of records) received.push(String(r.common.Id));
          accepted += records.length;
        },
        close: async () => undefined,
        abort: async () => undefined,
        get accepted() {
          return accepted;
        },
      };
    },
  };
  const container = BlobServiceClient.fromConnectionString(storage).getContainerClient('o365-dead-letter-cap');
  await container.createIfNotExists();
  const message = {
    tenantId,
    contentType: 'Audit.General' as const,
    contentId: 'oversize$record$0001',
    contentCreated: new Date().toISOString(),
    contentExpiration: new Date(Date.now() + 86_400_000).toISOString(),
    waits: 0,
  };
  gc();
  baseline = used();
  const outcome = await processContent(message, workerDeps({
    ledger: createTableLedger({ connectionString: storage, tableName: 'recordsizecap' }),
    fetchContent: async () => body(),
    sinksFor: () => [sink],
    deadLetter: createBlobDeadLetter(container),
  }));
  process.stdout.write(`${JSON.stringify({ outcome, received, expected: good.map((r) => String(r['Id'])), peakGrowth: peak, bigSize, bigOffset, contentId: message.contentId })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
