// A local stand-in for the Azure Monitor Logs Ingestion API (tests only), following its documented REST contract:
// POST {endpoint}/dataCollectionRules/{ruleId}/streams/{stream}?api-version=2023-01-01 with a JSON array body
// (gzip when Content-Encoding says so) and `Authorization: Bearer <token>`; 204 when the rows are taken.
// It speaks TLS with a throwaway CA (the SDK sends bearer tokens over https only), listens on 127.0.0.1 only, and
// fails on demand: a status with Retry-After, a dropped connection, a slow answer.
//
// Where the documentation is silent, our choices: 404 for an unknown rule or stream, 413 above `maxBodyBytes` of
// either the compressed or the uncompressed body, 400 for a body that is not a JSON array of objects (or a row
// `validateRow` refuses). Errors use the ARM shape {"error":{"code","message"}}.
import { createHash } from 'node:crypto';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createServerPki, type ServerPki } from '../../dev/simulator/certificates';

export type Fault =
  | { status: number; retryAfter?: string; code?: string }
  /** Destroy the socket without an answer (the client sees a reset). */
  | { drop: true }
  /** Answer normally after a pause. */
  | { delayMs: number };

export interface IngestionRequest {
  ruleId: string;
  stream: string;
  status: number;
  rows: number;
  /** Body bytes as sent (compressed when gzip). */
  bytes: number;
  /** JSON bytes after gunzip (0 until read). */
  jsonBytes: number;
  gzip: boolean;
  fault?: Fault;
}

export interface ReceiverOptions {
  ruleId: string;
  stream: string;
  /** Decides whether a bearer token is valid (e.g. `simulatorTokenCheck`); no check when absent. */
  authorize?: (token: string) => Promise<boolean>;
  /** Default 1,000,000 (the API's 1 MB per call). */
  maxBodyBytes?: number;
  /** A reason to refuse a row (400 for the whole request), or undefined. */
  validateRow?: (row: Record<string, unknown>) => string | undefined;
}

export interface LogsIngestionReceiver {
  /** `https://127.0.0.1:<port>` — the data collection endpoint. */
  readonly endpoint: string;
  readonly caCertPem: string;
  /** Rows taken (204), in the order they were taken. */
  readonly rows: Record<string, unknown>[];
  readonly requests: IngestionRequest[];
  /** Decides a fault per request before it is read (undefined = normal handling). */
  faults: (request: { index: number; rows?: number }) => Fault | undefined;
  /** The next `n` requests get `fault`, then normal handling resumes. */
  failNext(n: number, fault: Fault): void;
  close(): Promise<void>;
}

export async function startLogsIngestionReceiver(options: ReceiverOptions): Promise<LogsIngestionReceiver> {
  const pki: ServerPki = await createServerPki();
  const maxBodyBytes = options.maxBodyBytes ?? 1_000_000;
  const rows: Record<string, unknown>[] = [];
  const requests: IngestionRequest[] = [];
  let queued: Fault[] = [];
  let index = 0;

  const receiver = {
    faults: (() => undefined) as LogsIngestionReceiver['faults'],
  };

  const server: Server = createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(Buffer.concat(chunks)).catch(() => res.destroy());
    });

    const reply = (status: number, code?: string, message?: string, headers: Record<string, string> = {}) => {
      const body = code === undefined ? '' : JSON.stringify({ error: { code, message: message ?? code } });
      res.writeHead(status, { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers });
      res.end(body);
    };

    async function handle(raw: Buffer): Promise<void> {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const route = /^\/dataCollectionRules\/([^/]+)\/streams\/([^/]+)$/.exec(url.pathname);
      const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
      const record: IngestionRequest = {
        ruleId: route ? decodeURIComponent(route[1]!) : '',
        stream: route ? decodeURIComponent(route[2]!) : '',
        status: 0,
        rows: 0,
        bytes: raw.length,
        jsonBytes: 0,
        gzip,
      };
      requests.push(record);
      const finish = (status: number, code?: string, message?: string, headers?: Record<string, string>) => {
        record.status = status;
        reply(status, code, message, headers);
      };

      const at = index++;
      const fault = queued.shift() ?? receiver.faults({ index: at });
      if (fault) record.fault = fault;
      if (fault && 'drop' in fault) {
        record.status = -1;
        req.socket.destroy();
        return;
      }
      if (fault && 'delayMs' in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault && 'status' in fault) {
        return finish(fault.status, fault.code ?? 'InjectedFault', 'injected by the test', fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {});
      }

      if (req.method !== 'POST' || !route) return finish(404, 'NotFound', 'no such route');
      if (url.searchParams.get('api-version') !== '2023-01-01') return finish(400, 'InvalidApiVersion', 'api-version must be 2023-01-01');
      const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!auth) return finish(401, 'InvalidToken', 'a bearer token is required');
      if (options.authorize && !(await options.authorize(auth[1]!))) return finish(403, 'InvalidToken', 'the token is not valid for this resource');
      if (record.ruleId !== options.ruleId) return finish(404, 'DataCollectionRuleNotFound', 'unknown data collection rule');
      if (record.stream !== options.stream) return finish(404, 'InvalidStream', 'the stream is not declared in the rule');
      if (raw.length > maxBodyBytes) return finish(413, 'ContentLengthLimitExceeded', 'the body is over the limit');
      let text: string;
      try {
        text = (gzip ? gunzipSync(raw) : raw).toString('utf8');
      } catch {
        return finish(400, 'InvalidContentEncoding', 'the body is not gzip');
      }
      record.jsonBytes = Buffer.byteLength(text, 'utf8');
      if (record.jsonBytes > maxBodyBytes) return finish(413, 'ContentLengthLimitExceeded', 'the body is over the limit');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return finish(400, 'InvalidPayload', 'the body is not JSON');
      }
      if (!Array.isArray(body) || body.some((r) => r === null || typeof r !== 'object' || Array.isArray(r))) {
        return finish(400, 'InvalidPayload', 'the body must be a JSON array of objects');
      }
      const taken = body as Record<string, unknown>[];
      for (const row of taken) {
        const problem = options.validateRow?.(row);
        if (problem !== undefined) return finish(400, 'InvalidPayload', problem);
      }
      record.rows = taken.length;
      rows.push(...taken);
      finish(204);
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    endpoint: `https://127.0.0.1:${port}`,
    caCertPem: pki.caCertPem,
    rows,
    requests,
    get faults() {
      return receiver.faults;
    },
    set faults(decide) {
      receiver.faults = decide;
    },
    failNext(n, fault) {
      queued = [...queued, ...Array.from({ length: n }, () => fault)];
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pki.remove();
    },
  };
}

/**
 * Checks a bearer token against the API simulator: started with `manageResource` set to the Monitor audience, its
 * API answers 200 only to a live token of that audience for that tenant. Answers are cached per token.
 */
export function simulatorTokenCheck(sim: { apiRoot(tenantId: string): string; caCertPem: string }, tenantId: string): (token: string) => Promise<boolean> {
  const known = new Map<string, Promise<boolean>>();
  return (token) => {
    const key = createHash('sha256').update(token).digest('hex');
    let answer = known.get(key);
    if (!answer) {
      answer = new Promise<boolean>((resolve) => {
        const url = new URL(`${sim.apiRoot(tenantId)}/subscriptions/list?PublisherIdentifier=${tenantId}`);
        const req = httpsRequest(url, { method: 'GET', ca: sim.caCertPem, headers: { Authorization: `Bearer ${token}` } }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.end();
      });
      known.set(key, answer);
    }
    return answer;
  };
}
