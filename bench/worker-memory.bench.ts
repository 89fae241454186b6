// node dist/bench/worker-memory.bench.js: the content worker on a ~100 MB generated content blob — peak RSS
// (target ≤ 200 MB) and records/s, delivering to the blob sink on Azurite — next to a naive baseline measured in
// the same run (read the whole blob, JSON.parse it, format every line); the worker with Node's default heap and with
// the heap cap deployed to Azure (param workerHeapMB in infra/main.bicep); and, under that cap, host.json's full
// batch of blobs in flight, each holding 12 MB records (under the record size cap), which must still be delivered. Azurite runs in this
// (parent) process, each measurement in a child of its own, so each RSS figure is the measured code's alone.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startAzurite } from '../dev/azurite';
import { generateContentBlob } from '../dev/record-generator';
import { systemClock } from '../shared/api/clock';
import { createLogger } from '../shared/log';
import { processContent } from '../shared/pipeline/process-content';
import { decodeRecord } from '../shared/records/decode';
import { compileFilter } from '../shared/records/filters';
import { formatLine } from '../shared/records/line';
import { defaultMaxRecordBytes } from '../shared/records/scanner';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createBlobSink } from '../shared/sinks/blob-sink';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTableLedger } from '../shared/state/table-ledger';
import { noTelemetry } from '../shared/telemetry';

interface Figures {
  records: number;
  ms: number;
  peakRssBytes: number;
}

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const targetBytes = Number(process.env.BENCH_BLOB_MB ?? 100) * 1024 * 1024;

/** The worker on each file at once (one blob each, as the queue trigger runs them side by side). */
async function worker(files: string[], connectionString: string): Promise<Figures> {
  const storage = createStorageAccount({ kind: 'connectionString', connectionString });
  const deadLetter = createBlobDeadLetter(storage.blobService.getContainerClient('bench-dead-letter'));
  await deadLetter.ensure();
  const started = performance.now();
  const one = async (file: string, n: number) => {
    const outcome = await processContent(
      { tenantId: tenant, contentType: 'Audit.Exchange', contentId: `bench$${Date.now()}$${n}`, contentCreated: new Date().toISOString(), contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(), waits: 0 },
      {
        ledger: createTableLedger({ tableClient: storage.table('benchledger') }),
        fetchContent: async () => createReadStream(file, { highWaterMark: 1 << 20 }),
        sinksFor: () => [createBlobSink({ containerClient: storage.blobService.getContainerClient('bench-sink'), format: 'line' })],
        deadLetter,
        filter: compileFilter(),
        clock: systemClock,
        random: Math.random,
        owner: 'bench',
        claimLeaseMs: 30 * 60_000,
        deadline: Date.now() + 30 * 60_000,
        logger: createLogger({ level: 'error' }),
        telemetry: noTelemetry,
      },
    );
    if (outcome.kind !== 'delivered' || outcome.invalidSpans > 0) throw new Error(`worker did not deliver every record: ${JSON.stringify(outcome)}`);
    return outcome.stats.records;
  };
  const records = (await Promise.all(files.map(one))).reduce((a, b) => a + b, 0);
  return { records, ms: performance.now() - started, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

async function naive(file: string): Promise<Figures> {
  const started = performance.now();
  const records = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
  let chars = 0;
  for (const record of records) chars += formatLine(decodeRecord(record)).length;
  if (chars === 0) throw new Error('nothing formatted');
  return { records: records.length, ms: performance.now() - started, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** The worker's heap cap in Azure: the default of param workerHeapMB in infra/main.bicep, the one place it is set. */
function deployedHeapMB(): number {
  const bicep = readFileSync(path.resolve(__dirname, '..', '..', 'infra', 'main.bicep'), 'utf8');
  const value = /^param workerHeapMB int = (\d+)\s*$/m.exec(bicep)?.[1];
  if (value === undefined) throw new Error('infra/main.bicep has no "param workerHeapMB int = <MB>"');
  return Number(value);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'o365-worker-bench-'));
  const azurite = await startAzurite();
  try {
    const write = async (name: string, blob: Iterable<Buffer>) => {
      const out = createWriteStream(path.join(dir, name));
      for (const chunk of blob) if (!out.write(chunk)) await once(out, 'drain');
      out.end();
      await once(out, 'close');
      return path.join(dir, name);
    };
    // ~1.1 KB per generated record.
    const file = await write('blob.json', generateContentBlob(Math.ceil(targetBytes / 1150)));
    // Two admin records of 12 MB among ~2,000 ordinary ones: far past real records, and still under the record size
    // cap (O365_MAX_RECORD_BYTES, 16 MiB by default), so they are delivered, not dead-lettered.
    const large = await write('large.json', generateContentBlob(2000, { large: { every: 1000, bytes: Math.floor(defaultMaxRecordBytes * 0.75) } }));
    console.log(`content blob: ${mb(statSync(file).size)}; large-record blob: ${mb(statSync(large).size)} (node ${process.version})`);
    const heapMB = deployedHeapMB();
    const run = async (mode: string, heap: string[], files: string[], connectionString = azurite.connectionString): Promise<Figures> => {
      const { stdout } = await promisify(execFile)(process.execPath, [...heap, __filename, 'child', mode, JSON.stringify(files), connectionString], { maxBuffer: 1 << 20 });
      return JSON.parse(stdout) as Figures;
    };
    // host.json's batchSize + newBatchThreshold: the blobs one instance works on at once. Their sink output gets an
    // Azurite of its own (the in-memory store holds 256 MB).
    const queues = (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'host.json'), 'utf8')) as { extensions: { queues: { batchSize: number; newBatchThreshold: number } } }).extensions.queues;
    const inFlight = queues.batchSize + queues.newBatchThreshold;
    const inFlightRun = async (heap: string[]) => {
      const own = await startAzurite();
      try {
        return await run('worker', heap, Array<string>(inFlight).fill(large), own.connectionString);
      } finally {
        await own.close();
      }
    };
    // The naive baseline needs a large heap for the whole blob. The worker runs once with Node's defaults (here a
    // heap sized from this machine's memory, which V8 fills lazily, so RSS includes garbage) and once as deployed.
    const rows: Array<[string, Figures]> = [
      ['naive: read whole blob, JSON.parse, format every line', await run('naive', ['--max-old-space-size=8192'], [file])],
      ['worker: stream, scan, decode, deliver to the blob sink', await run('worker', [], [file])],
      [`worker as deployed, --max-old-space-size=${heapMB}`, await run('worker', [`--max-old-space-size=${heapMB}`], [file])],
    ];
    // Not against the target: it shows the cap does not fail a legitimate blob (a heap out of memory fails the run).
    const check = await inFlightRun([`--max-old-space-size=${heapMB}`]);
    // The same without a cap: what the cap is worth with the record size cap bounding what one blob holds.
    const uncapped = await inFlightRun([]);
    for (const [name, f] of rows) {
      console.log(`${name.padEnd(58)} ${String(Math.round(f.records / (f.ms / 1000))).padStart(8)} records/s  ${(f.ms / 1000).toFixed(1).padStart(6)} s  peak RSS ${mb(f.peakRssBytes)}`);
    }
    for (const [name, f] of rows.slice(1)) {
      console.log(`${name}: peak RSS ${mb(f.peakRssBytes)} (target <= 200 MB) ${f.peakRssBytes <= 200 * 1024 * 1024 ? 'MET' : 'MISSED'}`);
    }
    console.log(`as deployed, ${inFlight} large-record blobs in flight at once: delivered ${check.records} records, peak RSS ${mb(check.peakRssBytes)}`);
    console.log(`uncapped, ${inFlight} large-record blobs in flight at once: delivered ${uncapped.records} records, peak RSS ${mb(uncapped.peakRssBytes)}`);
  } finally {
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  const [mode, files, connectionString] = process.argv.slice(3) as [string, string, string];
  const paths = JSON.parse(files) as string[];
  (mode === 'naive' ? naive(paths[0]!) : worker(paths, connectionString)).then(
    (f) => process.stdout.write(JSON.stringify(f)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
