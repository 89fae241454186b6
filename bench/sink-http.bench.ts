// node dist/bench/sink-http.bench.js: events/s through the HTTPS JSON and Splunk HEC sinks to a loopback HTTPS
// receiver (the test receiver: it decompresses and parses every batch), each next to a baseline measured in the
// same run — the very request bodies the sink sent, re-POSTed as they are, one after another, over a keep-alive
// connection to the same receiver. The gap is what the sink itself costs (encoding, gzip, batching, answer
// reading). Records are decoded before timing starts. Local loopback figures, not a SIEM's.
import https from 'node:https';
import { createServerPki } from '../dev/simulator/certificates';
import { generateRecords } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { toAuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { HttpsJsonSinkSettings, createHttpsJsonSink } from '../shared/sinks/https-json-sink';
import type { Sink } from '../shared/sinks/sink';
import { SplunkHecSinkSettings, createSplunkHecSink } from '../shared/sinks/splunk-hec-sink';
import { startReceiver, type Receiver } from '../test/support/siem-receiver';

const token = 'bench-token-3c5e7a9b1d2f4e6a';
const content = {
  tenantId: '4a0cd6f4-4b8c-4c36-9f5c-0f1e6b0c2c11',
  contentType: 'Audit.General' as const,
  contentId: 'bench',
  contentCreated: '2024-05-14T01:00:00.000Z',
};

export interface SinkFigure {
  scenario: string;
  events: number;
  requests: number;
  wireBytes: number;
  sinkEventsPerSecond: number;
  baselineEventsPerSecond: number;
}

async function resend(receiver: Receiver, ca: string): Promise<number> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const sent = receiver.requests.filter((r) => r.outcome === 'accepted');
  const started = performance.now();
  for (const request of sent) {
    const headers: Record<string, string> = { 'Content-Length': String(request.wire!.length) };
    for (const name of ['content-type', 'content-encoding', 'authorization']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    await new Promise<void>((resolve, reject) => {
      const req = https.request(`${receiver.url}${request.path}`, { method: 'POST', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`baseline got HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(request.wire);
    });
  }
  const ms = performance.now() - started;
  agent.destroy();
  return ms;
}

/** Events/s of the JSON event encoding alone (toAuditEvent + formatLine + stringify): most of the sink's cost. */
function encodeOnly(list: readonly DecodedRecord[]): number {
  const started = performance.now();
  let bytes = 0;
  for (const record of list) bytes += JSON.stringify(toAuditEvent(record, formatLine(record))).length;
  const ms = performance.now() - started;
  return bytes > 0 ? Math.round(list.length / (ms / 1000)) : 0;
}

export async function benchHttpSinks(recordCount = 20_000): Promise<{ encodeOnlyEventsPerSecond: number; figures: SinkFigure[] }> {
  const pki = await createServerPki();
  const list: DecodedRecord[] = [...generateRecords(recordCount, { seed: 11 })].map((r) => decodeRecord(r));
  const context = { secret: () => token, logger: createLogger({ level: 'error' }) };
  const scenarios: Array<{ scenario: string; protocol: 'json' | 'hec'; make: (url: string) => Sink & { dispose(): void } }> = [
    { scenario: 'HTTPS JSON, NDJSON, gzip, 500/batch', protocol: 'json', make: (url) => createHttpsJsonSink('bench', HttpsJsonSinkSettings.parse({ url, tokenSetting: 'T', caFile: pki.caCertPath }), context) },
    { scenario: 'HTTPS JSON, NDJSON, no gzip, 500/batch', protocol: 'json', make: (url) => createHttpsJsonSink('bench', HttpsJsonSinkSettings.parse({ url, tokenSetting: 'T', caFile: pki.caCertPath, gzip: false }), context) },
    { scenario: 'Splunk HEC, gzip, 500/batch', protocol: 'hec', make: (url) => createSplunkHecSink('bench', SplunkHecSinkSettings.parse({ url, tokenSetting: 'T', caFile: pki.caCertPath }), context) },
  ];
  const figures: SinkFigure[] = [];
  const encodeOnlyEventsPerSecond = encodeOnly(list);
  try {
    for (const s of scenarios) {
      const receiver = await startReceiver({ protocol: s.protocol, pki, token, keepWire: true });
      try {
        const sink = s.make(s.protocol === 'json' ? `${receiver.url}/ingest` : receiver.url);
        const started = performance.now();
        const writer = await sink.open(content, { resumeAfter: 0 });
        for (let i = 0; i < list.length; i += 1000) await writer.write(list.slice(i, i + 1000));
        await writer.close();
        const sinkMs = performance.now() - started;
        sink.dispose();
        if (receiver.accepted.length !== recordCount) throw new Error(`${s.scenario}: the receiver accepted ${receiver.accepted.length} of ${recordCount}`);
        const requests = receiver.requests.length;
        const wireBytes = receiver.requests.reduce((n, r) => n + r.wireBytes, 0);
        const baselineMs = await resend(receiver, pki.caCertPem);
        figures.push({
          scenario: s.scenario,
          events: recordCount,
          requests,
          wireBytes,
          sinkEventsPerSecond: Math.round(recordCount / (sinkMs / 1000)),
          baselineEventsPerSecond: Math.round(recordCount / (baselineMs / 1000)),
        });
      } finally {
        await receiver.close();
      }
    }
  } finally {
    await pki.remove();
  }
  return { encodeOnlyEventsPerSecond, figures };
}

if (require.main === module) {
  const count = Number(process.env.BENCH_RECORDS ?? 20_000);
  benchHttpSinks(count).then(
    ({ encodeOnlyEventsPerSecond, figures }) => {
      console.log(`${count.toLocaleString('en')} generated records to a loopback HTTPS receiver (node ${process.version})`);
      console.log(`${'JSON event encoding alone (no I/O)'.padEnd(40)} ${String(encodeOnlyEventsPerSecond).padStart(12)} events/s`);
      for (const f of figures) {
        console.log(
          `${f.scenario.padEnd(40)} sink ${String(f.sinkEventsPerSecond).padStart(7)} events/s | same bodies re-POSTed raw ${String(f.baselineEventsPerSecond).padStart(7)} events/s | ${f.requests} requests, ${(f.wireBytes / 1024 / 1024).toFixed(1)} MB on the wire`,
        );
      }
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
