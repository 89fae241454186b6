// node dist/bench/sink-syslog.bench.js [records]: events/s through the syslog sink to a real rsyslogd on loopback
// (plain TCP and TLS), next to a baseline measured in the same run: the same framed bytes written raw on one
// connection, ended, and waited for until the receiver closes. Without rsyslogd it measures against a loopback
// TCP server that reads and discards (and says so).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { generateRecords } from '../dev/record-generator';
import { createLogger } from '../shared/log';
import { decodeRecord } from '../shared/records/decode';
import { formatLine } from '../shared/records/line';
import type { ContentRef } from '../shared/sinks/sink';
import { octetFrame, syslogMessage } from '../shared/sinks/syslog-format';
import { createSyslogSink, SyslogSinkSettings } from '../shared/sinks/syslog-sink';
import { makeCertificates, rsyslogd, startRsyslog } from '../test/support/rsyslog';

export interface SyslogBenchResult {
  receiver: 'rsyslogd' | 'discarding loopback server';
  records: number;
  bytes: number;
  /** formatLine + RFC 5424 message + frame alone, no network: the sink's ceiling on this machine. */
  formatOnlyEventsPerSecond: number;
  baselineEventsPerSecond: number;
  sinkEventsPerSecond: number;
  tlsBaselineEventsPerSecond?: number;
  tlsSinkEventsPerSecond?: number;
}

const content: ContentRef = {
  tenantId: '41463f53-8812-40f4-890f-865bf6e35190',
  contentType: 'Audit.General',
  contentId: '20240514000000000$20240514010000000$audit_general$Audit_General$bench',
  contentCreated: '2024-05-14T01:00:00.000Z',
};

/** Writes `payload` on one connection, half-closes, resolves when the receiver closes. */
function writeRaw(payload: Buffer, connect: () => net.Socket, ready: 'connect' | 'secureConnect'): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    socket.on('error', reject);
    socket.on('data', () => undefined);
    socket.on('close', () => resolve());
    socket.once(ready, () => socket.end(payload));
  });
}

export async function benchSyslogSink(recordCount = 50_000): Promise<SyslogBenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'o365-syslog-bench-'));
  let installed = true;
  try {
    rsyslogd();
  } catch {
    installed = false;
  }
  const certs = installed ? makeCertificates(dir) : undefined;
  const rsyslog = certs ? await startRsyslog(dir, certs) : undefined;
  // The fallback receiver: reads everything, closes when the sender has.
  const discard = net.createServer((socket) => {
    socket.resume();
    socket.on('error', () => undefined);
  });
  if (!rsyslog) await new Promise<void>((resolve) => discard.listen(0, '127.0.0.1', resolve));
  const tcpPort = rsyslog?.tcpPort ?? (discard.address() as net.AddressInfo).port;
  try {
    const records = [...generateRecords(recordCount, { seed: 3 })].map((r) => decodeRecord(r));
    const format = { facility: 'local0', severity: 'informational', failedSeverity: 'warning', hostname: 'bench', appName: 'o365-audit-relay', msgId: 'recordType', sdId: 'o365@32473', bom: true, maxMessageBytes: 8192 } as const;
    const formatStarted = performance.now();
    const payload = Buffer.concat(
      records.map((r) => {
        const message = syslogMessage(r, formatLine(r), content, format);
        if (!message.ok) throw new Error(message.reason);
        return octetFrame(message.bytes);
      }),
    );
    const formatOnlyEventsPerSecond = records.length / ((performance.now() - formatStarted) / 1000);
    const context = { secret: () => certs?.caPem ?? '', logger: createLogger({ level: 'error' }) };
    const viaSink = async (settings: unknown): Promise<number> => {
      const sink = createSyslogSink('bench', SyslogSinkSettings.parse(settings), context);
      const started = performance.now();
      const writer = await sink.open(content, { resumeAfter: 0 });
      for (let i = 0; i < records.length; i += 500) await writer.write(records.slice(i, i + 500));
      await writer.close();
      return records.length / ((performance.now() - started) / 1000);
    };
    const raw = async (connect: () => net.Socket, ready: 'connect' | 'secureConnect'): Promise<number> => {
      const started = performance.now();
      await writeRaw(payload, connect, ready);
      return records.length / ((performance.now() - started) / 1000);
    };

    // Warm the receiver up so neither measurement pays for its start.
    await writeRaw(payload.subarray(0, payload.indexOf(' ') + 1 + Number(payload.subarray(0, payload.indexOf(' ')).toString())), () => net.connect({ host: '127.0.0.1', port: tcpPort }), 'connect');
    const result: SyslogBenchResult = {
      receiver: rsyslog ? 'rsyslogd' : 'discarding loopback server',
      records: records.length,
      bytes: payload.length,
      formatOnlyEventsPerSecond,
      baselineEventsPerSecond: await raw(() => net.connect({ host: '127.0.0.1', port: tcpPort }), 'connect'),
      sinkEventsPerSecond: await viaSink({ host: '127.0.0.1', port: tcpPort, hostname: 'bench' }),
    };
    if (rsyslog && certs) {
      result.tlsBaselineEventsPerSecond = await raw(() => tls.connect({ host: '127.0.0.1', port: rsyslog.tlsPort, ca: [certs.caPem] }), 'secureConnect');
      result.tlsSinkEventsPerSecond = await viaSink({ host: '127.0.0.1', port: rsyslog.tlsPort, hostname: 'bench', tls: { caSetting: 'CA' } });
    }
    return result;
  } finally {
    await rsyslog?.stop();
    if (discard.listening) await new Promise<void>((resolve) => discard.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchSyslogSink(Number(process.argv[2] ?? 50_000)).then(
    (r) => {
      const rate = (n: number | undefined) => (n === undefined ? '-' : `${Math.round(n).toLocaleString('en-US')} events/s`);
      console.log(`syslog sink to ${r.receiver}: ${r.records} records, ${(r.bytes / 1024 / 1024).toFixed(1)} MB framed`);
      console.log(`  format only (no network): ${rate(r.formatOnlyEventsPerSecond)}`);
      console.log(`  TCP  raw bytes (baseline): ${rate(r.baselineEventsPerSecond)}   sink: ${rate(r.sinkEventsPerSecond)}   (${((100 * r.sinkEventsPerSecond) / r.baselineEventsPerSecond).toFixed(0)}% of baseline)`);
      if (r.tlsSinkEventsPerSecond !== undefined && r.tlsBaselineEventsPerSecond !== undefined) {
        console.log(`  TLS  raw bytes (baseline): ${rate(r.tlsBaselineEventsPerSecond)}   sink: ${rate(r.tlsSinkEventsPerSecond)}   (${((100 * r.tlsSinkEventsPerSecond) / r.tlsBaselineEventsPerSecond).toFixed(0)}% of baseline)`);
      }
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
