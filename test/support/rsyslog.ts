// A real rsyslogd (Debian's rsyslog + rsyslog-gnutls) for the syslog sink tests: run in the foreground with its
// own config, pid file and work directory under a temp dir, imtcp on loopback ports (plain, TLS, TLS asking for a
// client certificate), every received message written raw (%rawmsg%) one per line. Also: throwaway certificates
// made with openssl, a loopback proxy that cuts connections on demand, and an RFC 5424 parser for what arrived.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../dev/free-port';

export { freePort };

/** rsyslogd's path; throws (the test fails, it does not skip) when rsyslog is not installed. */
export function rsyslogd(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    const candidate = path.join(dir, 'rsyslogd');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new Error('rsyslogd is not installed: run `apt-get update && apt-get install -y rsyslog rsyslog-gnutls` (.ci/run does)');
}

export interface Certificates {
  caPem: string;
  otherCaPem: string;
  clientCertPem: string;
  clientKeyPem: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
}

/** A CA, a server certificate for 127.0.0.1 signed by it, a client certificate, and an unrelated CA. */
export function makeCertificates(dir: string): Certificates {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'other-ca']) openssl('req', '-x509', ...key, '-keyout', file(`${ca}.key`), '-out', file(`${ca}.pem`), '-days', '2', '-subj', `/CN=${ca} for tests`);
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, subject] of [['server', '/CN=127.0.0.1'], ['client', '/CN=o365-audit-relay']] as const) {
    openssl('req', ...key, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject);
    openssl('x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file(`${name}.pem`), '-days', '2', '-extfile', file(`${name}.ext`));
  }
  return {
    caPem: readFileSync(file('ca.pem'), 'utf8'),
    otherCaPem: readFileSync(file('other-ca.pem'), 'utf8'),
    clientCertPem: readFileSync(file('client.pem'), 'utf8'),
    clientKeyPem: readFileSync(file('client.key'), 'utf8'),
    caFile: file('ca.pem'),
    serverCertFile: file('server.pem'),
    serverKeyFile: file('server.key'),
  };
}


/** Ports in LISTEN state on 127.0.0.1 (from /proc/net/tcp: no probe connection reaches the receiver). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const row of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const cols = row.trim().split(/\s+/);
    if (cols[3] === '0A' && cols[1]?.startsWith('0100007F:')) ports.add(parseInt(cols[1].slice(9), 16));
  }
  return ports;
}

export interface Rsyslog {
  tcpPort: number;
  tlsPort: number;
  mtlsPort: number;
  outFile: string;
  /** Every received message (raw bytes, without the frame). */
  received(): Buffer[];
  /** Waits until `done(received())` holds; fails after `timeoutMs`. */
  waitFor(done: (messages: Buffer[]) => boolean, timeoutMs?: number): Promise<Buffer[]>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startRsyslog(dir: string, certs: Certificates, maxMessageSize = '8k'): Promise<Rsyslog> {
  const binary = rsyslogd();
  const [tcpPort, tlsPort, mtlsPort] = [await freePort(), await freePort(), await freePort()];
  const work = path.join(dir, 'rsyslog-work');
  mkdirSync(work, { recursive: true });
  const outFile = path.join(dir, 'received.log');
  const config = path.join(dir, 'rsyslog.conf');
  writeFileSync(
    config,
    `global(workDirectory="${work}" maxMessageSize="${maxMessageSize}"
  defaultNetstreamDriverCAFile="${certs.caFile}" defaultNetstreamDriverCertFile="${certs.serverCertFile}" defaultNetstreamDriverKeyFile="${certs.serverKeyFile}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="0")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="keep") { action(type="omfile" file="${outFile}" template="raw") }
input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="keep")
input(type="imtcp" address="127.0.0.1" port="${tlsPort}" ruleset="keep" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="${mtlsPort}" ruleset="keep" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
`,
  );
  let child: ChildProcess | undefined;
  let stderr = '';

  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) throw new Error('rsyslogd is already running');
    stderr = '';
    const proc = spawn(binary, ['-n', '-f', config, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const listening = listeningPorts();
      if ([tcpPort, tlsPort, mtlsPort].every((p) => listening.has(p))) return;
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`rsyslogd did not start listening: ${stderr.slice(0, 2000)}`);
      }
      await sleep(20);
    }
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const received = (): Buffer[] => {
    if (!existsSync(outFile)) return [];
    const all = readFileSync(outFile);
    const lines: Buffer[] = [];
    let from = 0;
    for (let i = all.indexOf(0x0a); i !== -1; from = i + 1, i = all.indexOf(0x0a, from)) lines.push(all.subarray(from, i));
    return lines;
  };
  const waitFor = async (done: (messages: Buffer[]) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = received();
      if (done(messages)) return messages;
      if (Date.now() > deadline) throw new Error(`rsyslog did not receive what was expected (${messages.length} messages so far)`);
      await sleep(50);
    }
  };
  await start();
  return { tcpPort, tlsPort, mtlsPort, outFile, received, waitFor, stop, start };
}

export interface ParsedSyslog {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  params: Record<string, string>;
  bom: boolean;
  msg: string;
}

/** An RFC 5424 message with one SD-ELEMENT, parsed independently of the sink's formatter; null when malformed. */
export function parseSyslog(raw: Buffer): ParsedSyslog | null {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return null; // not valid UTF-8: a fragment cut mid-character
  }
  const head = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[([^ =\]"]+)/.exec(text);
  if (!head) return null;
  const params: Record<string, string> = {};
  let i = head[0].length;
  for (;;) {
    if (text[i] === ']') {
      i++;
      break;
    }
    const param = /^ ([^ =\]"]+)="/.exec(text.slice(i, i + 40));
    if (!param) return null;
    i += param[0].length;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) return null;
      if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\' || text[i + 1] === ']')) {
        value += text[i + 1];
        i += 2;
      } else if (c === '"') {
        i++;
        break;
      } else if (c === ']') return null; // an unescaped ] inside a value
      else {
        value += c;
        i++;
      }
    }
    params[param[1]!] = value;
  }
  if (text[i] !== ' ') return null;
  let msg = text.slice(i + 1);
  const bom = msg.startsWith('\ufeff');
  if (bom) msg = msg.slice(1);
  return { pri: Number(head[1]), timestamp: head[2]!, hostname: head[3]!, appName: head[4]!, procId: head[5]!, msgId: head[6]!, sdId: head[7]!, params, bom, msg };
}

export interface CuttingProxy {
  port: number;
  /** Connections cut so far (each reset both ways mid-stream). */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to `targetPort` that, for the connections `shouldCut(n)` picks, resets both sides after
 * `cutAfter(n)` bytes from the client: a network drop (RST), never a graceful close that could pass for a reply.
 */
export async function startCuttingProxy(targetPort: number, shouldCut: (n: number) => boolean, cutAfter: (n: number) => number): Promise<CuttingProxy> {
  let count = 0;
  let cuts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const n = count++;
    const limit = shouldCut(n) ? cutAfter(n) : Infinity;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    let forwarded = 0;
    let cut = false;
    const reset = () => {
      if (cut) return;
      cut = true;
      cuts++;
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (cut) return;
      if (forwarded + chunk.length >= limit) {
        upstream.write(chunk.subarray(0, Math.max(0, limit - forwarded)), () => reset());
        forwarded = limit;
        return;
      }
      forwarded += chunk.length;
      upstream.write(chunk);
    });
    client.on('end', () => {
      if (!cut) upstream.end();
    });
    upstream.on('end', () => {
      if (!cut) client.end();
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const s of [client, upstream]) {
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get cuts() {
      return cuts;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
