// Sentinel sink throughput: generated records through the sink (row shaping, JSON, gzip, @azure/monitor-ingestion,
// TLS) to the local Logs Ingestion API stand-in, next to a baseline measured in the same run: the same rows in the
// same request bodies, gzipped and POSTed raw over the same TLS endpoint with node:https.
//   node dist/bench/sink-sentinel.bench.js            (BENCH_RECORDS, default 20,000)
import { Agent, request } from 'node:https';
import { gzipSync } from 'node:zlib';
import { generateRecords } from '../dev/record-generator';
import { trustCaPolicy } from '../dev/simulator/trust';
import { createLogger } from '../shared/log';
import { decodeRecord } from '../shared/records/decode';
import { createSentinelSink, SentinelSinkSettings } from '../shared/sinks/sentinel-sink';
import { defaultStreamName } from '../shared/sinks/sentinel-table';
import { startLogsIngestionReceiver } from '../test/support/logs-ingestion-receiver';

export interface SentinelBenchResult {
  records: number;
  requests: number;
  sinkEventsPerSecond: number;
  baselineEventsPerSecond: number;
}

const ruleId = 'dcr-00000000000000000000000000000000';

export async function benchSentinelSink(recordCount = 20_000): Promise<SentinelBenchResult> {
  const receiver = await startLogsIngestionReceiver({ ruleId, stream: defaultStreamName });
  try {
    const input = [...generateRecords(recordCount, { seed: 11 })].map(decodeRecord);
    const sink = createSentinelSink(
      'bench',
      SentinelSinkSettings.parse({ endpoint: receiver.endpoint, ruleId }),
      { secret: () => '', logger: createLogger({ level: 'error' }) },
      {
        // A fixed token: sign-in is not what is measured.
        credential: { getToken: async () => ({ token: 'bench-token', expiresOnTimestamp: Date.now() + 3_600_000 }) },
        additionalPolicies: [{ policy: trustCaPolicy(receiver.caCertPem), position: 'perCall' }],
      },
    );
    const content = { tenantId: '00000000-0000-0000-0000-000000000001', contentType: 'Audit.General' as const, contentId: 'bench', contentCreated: new Date().toISOString() };

    let started = performance.now();
    const writer = await sink.open(content, { resumeAfter: 0 });
    for (let i = 0; i < input.length; i += 500) await writer.write(input.slice(i, i + 500));
    await writer.close();
    const sinkMs = performance.now() - started;
    if (writer.accepted !== input.length) throw new Error(`accepted ${writer.accepted} of ${input.length}`);

    // The baseline sends exactly the bodies the sink sent: same rows, same request boundaries.
    const bodies: string[] = [];
    let offset = 0;
    for (const req of receiver.requests) {
      bodies.push(JSON.stringify(receiver.rows.slice(offset, offset + req.rows)));
      offset += req.rows;
    }
    const agent = new Agent({ keepAlive: true, ca: receiver.caCertPem });
    const url = new URL(`${receiver.endpoint}/dataCollectionRules/${ruleId}/streams/${defaultStreamName}?api-version=2023-01-01`);
    started = performance.now();
    for (const body of bodies) {
      const gz = gzipSync(body);
      await new Promise<void>((resolve, reject) => {
        const req = request(url, {
          method: 'POST',
          agent,
          headers: { Authorization: 'Bearer bench-token', 'Content-Type': 'application/json', 'Content-Encoding': 'gzip', 'Content-Length': gz.length },
        }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`baseline got ${res.statusCode}`))));
        });
        req.on('error', reject);
        req.end(gz);
      });
    }
    const baselineMs = performance.now() - started;
    agent.destroy();
    return {
      records: input.length,
      requests: bodies.length,
      sinkEventsPerSecond: Math.round((input.length / sinkMs) * 1000),
      baselineEventsPerSecond: Math.round((input.length / baselineMs) * 1000),
    };
  } finally {
    await receiver.close();
  }
}

if (require.main === module) {
  benchSentinelSink(Number(process.env.BENCH_RECORDS ?? 20_000)).then(
    (r) => {
      console.log(`sentinel sink: ${r.records} records in ${r.requests} requests`);
      console.log(`  sink      ${r.sinkEventsPerSecond} events/s (shape rows + JSON + gzip + SDK + TLS)`);
      console.log(`  baseline  ${r.baselineEventsPerSecond} events/s (same bodies gzipped and POSTed raw)`);
      console.log(`  ratio     ${(r.baselineEventsPerSecond / r.sinkEventsPerSecond).toFixed(2)}x`);
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
