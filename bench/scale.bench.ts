// npm run bench:scale -- --tenants N --api-latency-ms L [--hosts H] [--sample S]: the fan-out reconcile at scale.
// One Azurite and the API simulator (N tenants, one app, L ms of delay on every API request) in this process, H dev
// host processes running the built bundle and sharing that Azurite, each through its own counting proxy (so the
// storage operations and the queue messages each host handled are counted). Every stream (tenant × content type)
// gets one blob the webhook never announces; the reconciler's timer fires once (on one host: the timer singleton)
// and sends one o365-reconcile message per tenant (its five streams together); the cycle ends when every blob is in
// the sink. Prints one JSON line; the same-run baseline is the old serial way (reconcileStream stream after stream, as
// the timer did) timed on a sample of the same streams.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { TableClient } from '@azure/data-tables';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { createClientFromSettings } from '../shared/api/from-settings';
import { parseSettings } from '../shared/config';
import { mapLimited } from '../shared/map-limited';
import { createLogger } from '../shared/log';
import { reconcileStream } from '../shared/pipeline/reconcile';
import { createBlobDeadLetter } from '../shared/sinks/blob-dead-letter';
import { createContentQueue } from '../shared/state/content-queue';
import { createTableLedger } from '../shared/state/table-ledger';
import { contentPartition, contentRowKey, streamPartition } from '../shared/state/ledger-rows';
import { encodeKey } from '../shared/state/table-keys';
import { noTelemetry } from '../shared/telemetry';
import { DEV_ACCOUNT, DEV_ACCOUNT_KEY, startAzurite, type RunningAzurite } from '../dev/azurite';
import { freePort } from '../dev/free-port';
import { simulatorClientSettings, startSimulator } from '../dev/simulator';

const repoRoot = path.resolve(__dirname, '..', '..');
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'scale-bench-secret-value-0123456789';
const sinkContainer = 'o365-audit';

const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '100' },
    'api-latency-ms': { type: 'string', default: '200' },
    hosts: { type: 'string', default: '3' },
    sample: { type: 'string', default: '20' },
    'timeout-s': { type: 'string', default: '600' },
  },
  allowPositionals: true, // `azurite`: the child that runs Azurite
});
const tenantCount = Number(values.tenants);
const latencyMs = Number(values['api-latency-ms']);
const hostCount = Number(values.hosts);
const sampleSize = Number(values.sample);
const timeoutMs = Number(values['timeout-s']) * 1000;

const tenantIdOf = (i: number) => `${(0x10000000 + i).toString(16)}-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** Storage requests through one host's proxy: all of them, and queue messages sent / completed per queue. */
interface Counts {
  requests: number;
  /** Requests per service (blob, queue, table). */
  byService: Map<string, number>;
  sent: Map<string, number>;
  completed: Map<string, number>;
  /** Sink blobs committed (Put Block List answered 201), shared by every host's proxy: the bench counts deliveries
   * here instead of listing the sink container, which at thousands of blobs would load Azurite more than the hosts. */
  delivered: Set<string>;
}
const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);

/** A pass-through HTTP proxy to one Azurite service that counts what goes through. */
async function countingProxy(service: string, target: string, counts: Counts): Promise<{ url: string; server: Server }> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    counts.requests++;
    add(counts.byService, service);
    const [, , queue, messages, id] = (req.url ?? '').split('?')[0]!.split('/');
    if (messages === 'messages' && queue) {
      if (req.method === 'POST') add(counts.sent, queue);
      if (req.method === 'DELETE' && id) add(counts.completed, queue);
    }
    const [pathname = '', query = ''] = (req.url ?? '').split('?');
    const commit = service === 'blob' && req.method === 'PUT' && /(^|&)comp=blocklist(&|$)/.test(query) && pathname.startsWith(`/${DEV_ACCOUNT}/${sinkContainer}/`);
    const upstream = request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (commit && answer.statusCode === 201) counts.delivered.add(pathname);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${DEV_ACCOUNT}`, server };
}

async function proxiedConnection(azurite: RunningAzurite, counts: Counts): Promise<{ connectionString: string; servers: Server[] }> {
  const [blob, queue, table] = await Promise.all(([['blob', azurite.blobUrl!], ['queue', azurite.queueUrl!], ['table', azurite.tableUrl!]] as const).map(([service, u]) => countingProxy(service, new URL(u).origin, counts)));
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=${blob!.url};QueueEndpoint=${queue!.url};TableEndpoint=${table!.url};`,
    servers: [blob!.server, queue!.server, table!.server],
  };
}

/** NCRONTAB for one instant (UTC): fires once a day, so once in this run. */
const cronAt = (d: Date) => `${d.getUTCSeconds()} ${d.getUTCMinutes()} ${d.getUTCHours()} * * *`;

async function main(): Promise<void> {
  if (![tenantCount, latencyMs, hostCount, sampleSize].every((n) => Number.isInteger(n) && n >= 0) || tenantCount < 1 || hostCount < 1) {
    throw new Error('--tenants, --hosts (≥ 1), --api-latency-ms and --sample take whole numbers');
  }
  const tenants = Array.from({ length: tenantCount }, (_, i) => tenantIdOf(i + 1));
  const streams = tenants.flatMap((tenantId) => contentTypes.map((contentType) => ({ tenantId, contentType })));
  // Azurite in a process of its own: at hundreds of tenants its table queries would otherwise share one thread with
  // the simulator and the counting proxies, and the bench would measure itself instead of the hosts.
  const azurite = await startAzuriteProcess();
  const sim = await startSimulator({
    tenants: tenants.map((tenantId) => ({ tenantId, apps: [{ clientId, clientSecret }] })),
    startSpacingMinutes: 0,
  });
  const children: ChildProcess[] = [];
  const servers: Server[] = [];
  try {
    const apiSettings = simulatorClientSettings(sim, { tenantId: tenants.join(','), clientId, clientSecret });
    // Setup without latency: subscriptions (no webhook: every blob is unannounced) and one blob per stream.
    const setupClient = createClientFromSettings(parseSettings({ ...apiSettings, O365_REQUESTS_PER_MINUTE: '2000' }).api);
    await mapLimited(streams, 16, async ({ tenantId, contentType }) => { await setupClient.tenant(tenantId).startSubscription(contentType); });
    setupClient.close();
    let n = 0;
    const contentIds: Array<{ tenantId: string; contentType: string; contentId: string }> = [];
    for (const { tenantId, contentType } of streams) {
      const records = Array.from({ length: 5 }, () => ({ Id: `rec-${++n}`, CreationTime: new Date().toISOString().slice(0, 19), Operation: 'FileAccessed', OrganizationId: tenantId, RecordType: 6, UserId: 'u@example.com', UserType: 0, Workload: 'SharePoint' }));
      const published = await sim.publish(tenantId, contentType, records, { contentCreated: new Date(Date.now() - 5 * 60_000) });
      contentIds.push({ tenantId, contentType, contentId: published.contentId });
    }
    sim.faults.delayMs = latencyMs;

    // H hosts, each through its own counting proxy; the reconciler fires once, 20 s from now (all hosts up by then).
    const delivered = new Set<string>();
    const counts: Counts[] = Array.from({ length: hostCount }, () => ({ requests: 0, byService: new Map<string, number>(), sent: new Map<string, number>(), completed: new Map<string, number>(), delivered }));
    const fireAt = new Date(Math.ceil((Date.now() + 20_000) / 1000) * 1000);
    const outputs: string[][] = [];
    for (let h = 0; h < hostCount; h++) {
      const proxied = await proxiedConnection(azurite, counts[h]!);
      servers.push(...proxied.servers);
      const env: Record<string, string> = {
        ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !/^(O365_|AzureWebJobs)/.test(e[0]))),
        ...apiSettings,
        AzureWebJobsStorage: proxied.connectionString,
        O365_BLOB_FORMAT: 'json',
        O365_RECONCILE_SCHEDULE: cronAt(fireAt),
        O365_KEEPER_SCHEDULE: '0 0 0 1 1 *',
        O365_REDELIVER_SCHEDULE: '0 0 0 1 1 *',
        O365_LOG_LEVEL: 'info', // on a timeout, the lines about each missing blob are printed
      };
      const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'dev', 'host', 'main.js'), '--app', '.', '--port', String(await freePort()), '--host-json', 'host.json'],
        { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const output: string[] = [];
      child.stdout?.on('data', (c: Buffer) => output.push(c.toString('utf8')));
      child.stderr?.on('data', (c: Buffer) => output.push(c.toString('utf8')));
      children.push(child);
      outputs.push(output);
    }
    const sink = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(sinkContainer);
    const listed = async () => {
      if (!(await sink.exists())) return 0;
      let count = 0;
      for await (const _blob of sink.listBlobsFlat()) count++;
      return count;
    };
    while (Date.now() < fireAt.getTime()) {
      if (children.some((c) => c.exitCode !== null)) throw new Error(`a host exited:\n${outputs.map((o) => o.join('').slice(-3000)).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const atFire = counts.map((c) => ({ requests: c.requests, sent: sum(c.sent), reconcileSent: c.sent.get('o365-reconcile') ?? 0, byService: new Map(c.byService) }));
    const journalAtFire = sim.journal.length;
    let lastProgress = Date.now();
    for (;;) {
      if (delivered.size >= streams.length) break;
      if (Date.now() - fireAt.getTime() > timeoutMs) {
        throw new Error(`only ${delivered.size} of ${streams.length} blobs delivered after ${timeoutMs / 1000} s; the missing ones:\n${await whereMissing(contentIds, delivered, azurite, outputs)}`);
      }
      if (Date.now() - lastProgress >= 30_000) {
        lastProgress = Date.now();
        console.error(`${Math.round((lastProgress - fireAt.getTime()) / 1000)} s: ${delivered.size} of ${streams.length} blobs delivered`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const cycleSeconds = (Date.now() - fireAt.getTime()) / 1000;
    // The count from the proxies, checked once against the sink itself.
    const blobs = await listed();
    if (blobs !== delivered.size) throw new Error(`the proxies counted ${delivered.size} sink blobs, the sink holds ${blobs}`);
    const storageOps = counts.reduce((a, c, i) => a + c.requests - atFire[i]!.requests, 0);
    const messagesSent = counts.reduce((a, c, i) => a + sum(c.sent) - atFire[i]!.sent, 0);
    const reconcileMessagesSent = counts.reduce((a, c, i) => a + (c.sent.get('o365-reconcile') ?? 0) - atFire[i]!.reconcileSent, 0);
    const perService = (service: string) => counts.reduce((a, c, i) => a + (c.byService.get(service) ?? 0) - (atFire[i]!.byService.get(service) ?? 0), 0);

    // Busiest minute of API requests of any one tenant (sliding 60 s), during the cycle.
    const byTenant = new Map<string, number[]>();
    for (const e of sim.journal.slice(journalAtFire)) {
      if (e.direction !== 'in' || !e.tenantId || !e.path.includes('/activity/feed/')) continue;
      const list = byTenant.get(e.tenantId) ?? [];
      list.push(Date.parse(e.time));
      byTenant.set(e.tenantId, list);
    }
    let busiestTenantMinute = 0;
    for (const times of byTenant.values()) {
      times.sort((a, b) => a - b);
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= 60_000) j++;
        busiestTenantMinute = Math.max(busiestTenantMinute, i - j + 1);
      }
    }
    for (const child of children) child.kill('SIGTERM');

    // The old serial way on a sample of the same streams: reconcileStream one after the other (fresh ledger table
    // and queue, so it lists and enqueues as the timer did), same simulator, same latency.
    const sample = streams.filter((_, i) => i % Math.max(1, Math.floor(streams.length / Math.max(1, sampleSize))) === 0).slice(0, sampleSize);
    const serialClient = createClientFromSettings(parseSettings({ ...apiSettings, O365_REQUESTS_PER_MINUTE: '2000' }).api);
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName: 'serialbaseline' });
    const queue = createContentQueue((name) => new QueueClient(azurite.connectionString, name), 'serial-baseline');
    await queue.ensure();
    const deadLetter = createBlobDeadLetter(BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('serial-baseline-dead-letter'));
    const started = Date.now();
    for (const { tenantId, contentType } of sample) {
      await reconcileStream(tenantId, contentType as ContentType, {
        ledger, listContent: (t, ct, range) => serialClient.tenant(t).listContentRange(ct, range), enqueue: (m) => queue.enqueue(m), deadLetter,
        now: () => new Date(), overlapMs: 30 * 60_000, initialLookbackMs: 24 * 3_600_000, logger: createLogger({ level: 'error' }), telemetry: noTelemetry,
      });
    }
    const serialSecondsPerStream = sample.length === 0 ? 0 : (Date.now() - started) / 1000 / sample.length;
    serialClient.close();

    // Messages each host completed: o365-reconcile ones are tenant batches (up to 5 streams each), not streams.
    const perHost = counts.map((c) => ({ reconcileMessages: c.completed.get('o365-reconcile') ?? 0, contentMessages: c.completed.get('o365-content') ?? 0 }));
    console.log(JSON.stringify({
      tenants: tenantCount,
      contentTypes: contentTypes.length,
      streams: streams.length,
      hosts: hostCount,
      apiLatencyMs: latencyMs,
      cycleSeconds: Number(cycleSeconds.toFixed(1)),
      blobsDelivered: blobs,
      busiestTenantMinuteRequests: busiestTenantMinute,
      storageOpsPerBlob: Number((storageOps / blobs).toFixed(1)),
      // Of which: queue includes the hosts' empty polls (3 queues × H hosts, every 0.1-0.5 s), a fixed cost, not per blob.
      storageOpsPerBlobByService: Object.fromEntries(['blob', 'queue', 'table'].map((service) => [service, Number((perService(service) / blobs).toFixed(1))])),
      queueMessagesPerBlob: Number((messagesSent / blobs).toFixed(2)),
      // One per tenant (its streams together) plus follow-ups of streams behind: the tenant count when none is.
      reconcileMessagesSent,
      perHost,
      baseline: {
        way: 'serial reconcileStream (the old timer), same run, same latency',
        sampleStreams: sample.length,
        secondsPerStream: Number(serialSecondsPerStream.toFixed(3)),
        estimatedCycleSeconds: Number((serialSecondsPerStream * streams.length).toFixed(1)),
      },
      speedup: Number(((serialSecondsPerStream * streams.length) / cycleSeconds).toFixed(1)),
      node: process.version,
    }));
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    for (const server of servers) server.close();
    await sim.close();
    await azurite.close();
  }
}

/** For a run that timed out: each undelivered blob's ledger row and every host log line that names it or its stream. */
async function whereMissing(published: ReadonlyArray<{ tenantId: string; contentType: string; contentId: string }>, delivered: ReadonlySet<string>, azurite: RunningAzurite, outputs: readonly string[][]): Promise<string> {
  const deliveredIds = new Set([...delivered].map((p) => p.slice(p.lastIndexOf('/') + 1).replace(/\.[a-z]+$/, '')));
  const missing = published.filter((c) => !deliveredIds.has(c.contentId)).slice(0, 20);
  const ledger = TableClient.fromConnectionString(azurite.connectionString, 'relayledger', { allowInsecureConnection: true });
  const lines = outputs.flatMap((o) => o.join('').split('\n'));
  const report: string[] = [];
  for (const c of missing) {
    const row = await ledger.getEntity(contentPartition(c.tenantId), contentRowKey(c.contentId)).catch(() => undefined);
    const stream = await ledger.getEntity(streamPartition(c.tenantId), encodeKey(c.contentType)).catch(() => undefined);
    const show = (r: object | undefined) => JSON.stringify(r ?? null, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    report.push(`${c.tenantId} ${c.contentType} ${c.contentId}\n  ledger: ${show(row)}\n  stream: ${show(stream)}`);
    for (const line of lines.filter((l) => l.includes(c.contentId) || (l.includes(c.tenantId) && l.includes(c.contentType)))) report.push(`  log: ${line.slice(0, 600)}`);
  }
  return report.join('\n');
}

/** Azurite in a child process (this file with `azurite`): its endpoints come back as one JSON line. */
async function startAzuriteProcess(): Promise<RunningAzurite> {
  const child = spawn(process.execPath, [__filename, 'azurite'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  for await (const chunk of child.stdout) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  const started = JSON.parse(text) as Omit<RunningAzurite, 'close'>;
  return {
    ...started,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

if (process.argv[2] === 'azurite') {
  void startAzurite().then((running) => {
    const { close, ...endpoints } = running;
    process.stdout.write(JSON.stringify(endpoints) + '\n');
    process.once('SIGTERM', () => void close().then(() => process.exit(0)));
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
