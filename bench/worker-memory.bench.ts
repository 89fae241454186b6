// node dist/bench/worker-memory.bench.js: the content worker on a ~100 MB generated content blob — peak RSS
// (target ≤ 200 MB) and records/s, delivering to the blob sink on Azurite — next to a naive baseline measured in
// the same run (read the whole blob, JSON.parse it, format every line). Azurite runs in this (parent) process, each
// measurement in a child of its own, so each RSS figure is the measured code's alone.
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

async function worker(file: string, connectionString: string): Promise<Figures> {
  const storage = createStorageAccount({ kind: 'connectionString', connectionString });
  const started = performance.now();
  const outcome = await processContent(
    { tenantId: tenant, contentType: 'Audit.Exchange', contentId: `bench$${Date.now()}`, contentCreated: new Date().toISOString(), contentExpiration: new Date(Date.now() + 7 * 86_400_000).toISOString(), waits: 0 },
    {
      ledger: createTableLedger({ tableClient: storage.table('benchledger') }),
      fetchContent: async () => createReadStream(file, { highWaterMark: 1 << 20 }),
      sinksFor: () => [createBlobSink({ containerClient: storage.blobService.getContainerClient('bench-sink'), format: 'line' })],
      deadLetter: createBlobDeadLetter(storage.blobService.getContainerClient('bench-dead-letter')),
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
  if (outcome.kind !== 'delivered') throw new Error(`worker did not deliver: ${JSON.stringify(outcome)}`);
  return { records: outcome.stats.records, ms: performance.now() - started, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
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

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'o365-worker-bench-'));
  const azurite = await startAzurite();
  try {
    const file = path.join(dir, 'blob.json');
    const out = createWriteStream(file);
    // ~1.1 KB per generated record.
    for (const chunk of generateContentBlob(Math.ceil(targetBytes / 1150))) if (!out.write(chunk)) await once(out, 'drain');
    out.end();
    await once(out, 'close');
    console.log(`content blob: ${mb(statSync(file).size)} (node ${process.version})`);
    const run = async (mode: string): Promise<Figures> => {
      // The naive baseline needs a large heap for the whole blob. The worker runs once with Node's defaults (V8 then
      // collects lazily, so RSS includes garbage) and once with a 128 MB old space, which shows what it retains.
      const heap = { naive: ['--max-old-space-size=8192'], worker: [], 'worker-capped': ['--max-old-space-size=128'] }[mode] ?? [];
      const { stdout } = await promisify(execFile)(process.execPath, [...heap, __filename, 'child', mode, file, azurite.connectionString], { maxBuffer: 1 << 20 });
      return JSON.parse(stdout) as Figures;
    };
    const rows: Array<[string, Figures]> = [
      ['naive: read whole blob, JSON.parse, format every line', await run('naive')],
      ['worker: stream, scan, decode, deliver to the blob sink', await run('worker')],
      ['worker, --max-old-space-size=128', await run('worker-capped')],
    ];
    for (const [name, f] of rows) {
      console.log(`${name.padEnd(58)} ${String(Math.round(f.records / (f.ms / 1000))).padStart(8)} records/s  ${(f.ms / 1000).toFixed(1).padStart(6)} s  peak RSS ${mb(f.peakRssBytes)}`);
    }
    for (const [name, f] of rows.slice(1)) {
      console.log(`${name}: peak RSS ${mb(f.peakRssBytes)} (target <= 200 MB) ${f.peakRssBytes <= 200 * 1024 * 1024 ? 'MET' : 'MISSED'}`);
    }
  } finally {
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  const [mode, file, connectionString] = process.argv.slice(3) as [string, string, string];
  (mode === 'naive' ? naive(file) : worker(file, connectionString)).then(
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
