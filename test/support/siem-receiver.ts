// A loopback SIEM receiver for the HTTP sink tests: HTTPS (the throwaway CA from the simulator's PKI) or plain
// HTTP, speaking either a generic JSON collector contract (NDJSON or a JSON array, bearer token) or Splunk HEC's
// documented one (/services/collector/event, `Splunk <token>`, concatenated event objects, `{text, code}`
// answers; an event HEC refuses is named by `invalid-event-number` and the events before it are kept, as Splunk
// does). It decompresses gzip, records every request and every event it accepted, and fails on demand:
// drop the connection mid-request, keep a batch but lose its answer, a status with Retry-After, HEC codes, slow
// answers, 400 on marked records.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { ServerPki } from '../../dev/simulator/certificates';

export type Fault =
  /** Destroy the connection before reading the body. */
  | { kind: 'drop' }
  /** Answer this status (and body) instead of processing the batch. */
  | { kind: 'status'; status: number; body?: unknown; retryAfter?: string }
  /** Process normally but answer only after this delay (a client that gave up meanwhile is not counted). */
  | { kind: 'slow'; delayMs: number }
  /** Process and keep the batch, then drop the connection instead of answering (the sender cannot know). */
  | { kind: 'lose-answer' };

export interface ReceiverOptions {
  protocol: 'json' | 'hec';
  /** TLS with this PKI; omitted = plain HTTP. */
  pki?: ServerPki;
  /** The token the receiver requires (bearer for json, `Splunk` for HEC); omitted = none (json only). */
  token?: string;
  /** Instead of `token`: the tokens accepted now, read at each request (one per customer; rotation). */
  tokens?: () => readonly string[];
  /** HEC: indexes the token may write to (an event naming another gets code 7). Default: any. */
  indexes?: readonly string[];
  /** A fault for request number n (1-based), decided before the body is read. */
  fault?: (n: number) => Fault | undefined;
  /** Events refused as bad data: json 400 for the whole request; HEC code 6 with invalid-event-number, the events before it kept. */
  badEvent?: (event: unknown) => boolean;
  /** HEC indexer acknowledgement on the token: a channel is required, answers carry ackIds, /ack reports them. */
  ack?: {
    /** Polls of an ackId answered false before it is reported indexed. Default 0. */
    pollsBeforeAck?: number;
    /** AckIds (per channel, from 0) that are never reported indexed (a lost batch). */
    never?: (ackId: number) => boolean;
  };
  /** Keep each request's body as it came over the wire (the benchmark re-sends it as its baseline). */
  keepWire?: boolean;
}

export interface ReceivedRequest {
  n: number;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Body bytes on the wire (compressed when gzip). */
  wireBytes: number;
  events: unknown[];
  outcome: 'accepted' | 'failed' | 'dropped' | 'abandoned';
  /** The batch was kept but its answer never sent (`lose-answer`). */
  answerLost?: boolean;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  status?: number;
  wire?: Buffer;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Every event of every request the receiver answered with success, in arrival order. */
  accepted: unknown[];
  /** With `ack`: the events of every ackId reported indexed, in the order they were reported. */
  acknowledged: unknown[];
  close(): Promise<void>;
}

const hecAnswers = {
  success: { status: 200, body: { text: 'Success', code: 0 } },
  tokenRequired: { status: 401, body: { text: 'Token is required', code: 2 } },
  invalidAuthorization: { status: 401, body: { text: 'Invalid authorization', code: 3 } },
  invalidToken: { status: 403, body: { text: 'Invalid token', code: 4 } },
  noData: { status: 400, body: { text: 'No data', code: 5 } },
  notFound: { status: 404, body: { text: 'The requested URL was not found on this server.', code: 404 } },
} as const;

/** Splits JSON objects written one after another (HEC's batch body); throws with the failing event's number. */
export function splitConcatenatedJson(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) {
        try {
          out.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          throw Object.assign(new Error('invalid event'), { eventNumber: out.length });
        }
      }
    } else if (depth === 0 && !/\s/.test(c!)) throw Object.assign(new Error('invalid event'), { eventNumber: out.length });
  }
  if (depth !== 0 || inString) throw Object.assign(new Error('invalid event'), { eventNumber: out.length });
  return out;
}

interface Decision {
  status: number;
  body: unknown;
  retryAfter?: string | undefined;
  accepted: boolean;
  /** HEC: the events before the invalid one, kept although the request is refused. */
  kept?: number;
}

/** Whether the request carries an accepted token (`scheme token`); true when the receiver takes any. */
function tokenAccepted(options: ReceiverOptions, req: http.IncomingMessage, scheme: string): boolean {
  const allowed = options.tokens?.() ?? (options.token === undefined ? undefined : [options.token]);
  return allowed === undefined || allowed.some((t) => req.headers.authorization === `${scheme} ${t}`);
}

function jsonDecision(options: ReceiverOptions, req: http.IncomingMessage, text: string, events: unknown[]): Decision {
  if (!tokenAccepted(options, req, 'Bearer')) return { status: 401, body: { error: 'unauthorized' }, accepted: false };
  if (events.some((e) => options.badEvent?.(e))) return { status: 400, body: { error: 'bad event' }, accepted: false };
  return { status: 200, body: { received: events.length }, accepted: text.length > 0 };
}

function hecDecision(options: ReceiverOptions, req: http.IncomingMessage, events: unknown[] | Error): Decision {
  const answer = (a: { status: number; body: unknown }, accepted = false): Decision => ({ ...a, accepted });
  if (new URL(req.url ?? '/', 'http://x').pathname !== '/services/collector/event') return answer(hecAnswers.notFound);
  const auth = req.headers.authorization;
  if (auth === undefined) return answer(hecAnswers.tokenRequired);
  if (!auth.startsWith('Splunk ')) return answer(hecAnswers.invalidAuthorization);
  if (!tokenAccepted(options, req, 'Splunk')) return answer(hecAnswers.invalidToken);
  if (options.ack && typeof req.headers['x-splunk-request-channel'] !== 'string') return answer({ status: 400, body: { text: 'Data channel is missing', code: 10 } });
  if (events instanceof Error) {
    const n = (events as Error & { eventNumber?: number }).eventNumber ?? 0;
    return answer({ status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': n } });
  }
  if (events.length === 0) return answer(hecAnswers.noData);
  for (const [n, e] of events.entries()) {
    const event = e as Record<string, unknown>;
    const refuse = (text: string, code: number): Decision => ({ status: 400, body: { text, code, 'invalid-event-number': n }, accepted: false, kept: n });
    if (!('event' in event)) return refuse('Event field is required', 12);
    if (event.event === '' || event.event === null) return refuse('Event field cannot be blank', 13);
    if (typeof event.index === 'string' && options.indexes !== undefined && !options.indexes.includes(event.index)) return refuse('Incorrect index', 7);
    if (options.badEvent?.(event)) return refuse('Invalid data format', 6);
  }
  return answer(hecAnswers.success, true);
}

function parseJsonBody(req: http.IncomingMessage, text: string): unknown[] {
  if (text.trim() === '') return [];
  if ((req.headers['content-type'] ?? '').startsWith('application/x-ndjson')) {
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  }
  const value = JSON.parse(text) as unknown;
  return Array.isArray(value) ? value : [value];
}

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const accepted: unknown[] = [];
  const acknowledged: unknown[] = [];
  const channels = new Map<string, Array<{ events: unknown[]; polls: number; acked: boolean }>>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let count = 0;

  /** /services/collector/ack: `{"acks":[ids]}` → `{"acks":{"id":bool}}` for the request's channel. */
  const ackDecision = (req: http.IncomingMessage, wire: Buffer): Decision => {
    if (!tokenAccepted(options, req, 'Splunk')) return { ...hecAnswers.invalidToken, accepted: false };
    if (!options.ack) return { status: 400, body: { text: 'ACK is disabled', code: 14 }, accepted: false };
    const pending = channels.get(String(req.headers['x-splunk-request-channel']));
    if (pending === undefined) return { status: 400, body: { text: 'Invalid data channel', code: 11 }, accepted: false };
    let ids: unknown;
    try {
      ids = (JSON.parse(wire.toString('utf8')) as { acks?: unknown }).acks;
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids)) return { status: 400, body: { text: 'Invalid data format', code: 6 }, accepted: false };
    const acks: Record<string, boolean> = {};
    for (const id of ids) {
      const entry = typeof id === 'number' ? pending[id] : undefined;
      if (entry === undefined) continue;
      entry.polls++;
      if (!entry.acked && entry.polls > (options.ack.pollsBeforeAck ?? 0) && !options.ack.never?.(id as number)) {
        entry.acked = true;
        acknowledged.push(...entry.events);
      }
      acks[String(id)] = entry.acked;
    }
    return { status: 200, body: { acks }, accepted: false };
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const n = ++count;
    const record: ReceivedRequest = { n, path: req.url ?? '', headers: req.headers, wireBytes: 0, events: [], outcome: 'failed', receivedAt: Date.now() };
    requests.push(record);
    const fault = options.fault?.(n);
    if (fault?.kind === 'drop') {
      record.outcome = 'dropped';
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      record.wireBytes = wire.length;
      if (options.keepWire) record.wire = wire;
      const send = (decided: Decision) => {
        let d = decided;
        if (req.socket.destroyed) {
          record.outcome = 'abandoned';
          return;
        }
        record.status = d.status;
        record.outcome = d.accepted ? 'accepted' : 'failed';
        if (d.accepted) accepted.push(...record.events);
        else if (d.kept !== undefined) accepted.push(...record.events.slice(0, d.kept));
        if (d.accepted && options.protocol === 'hec' && options.ack) {
          const channel = String(req.headers['x-splunk-request-channel']);
          const pending = channels.get(channel) ?? [];
          channels.set(channel, pending);
          pending.push({ events: record.events, polls: 0, acked: false });
          d = { ...d, body: { ...(d.body as object), ackId: pending.length - 1 } };
        }
        if (fault?.kind === 'lose-answer') {
          record.answerLost = true;
          req.socket.destroy();
          return;
        }
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (d.retryAfter !== undefined) headers['Retry-After'] = d.retryAfter;
        res.writeHead(d.status, headers).end(JSON.stringify(d.body));
      };
      if (fault?.kind === 'status') return send({ status: fault.status, body: fault.body ?? {}, retryAfter: fault.retryAfter, accepted: false });
      if (options.protocol === 'hec' && new URL(req.url ?? '/', 'http://x').pathname === '/services/collector/ack') return send(ackDecision(req, wire));
      let decision: Decision;
      try {
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
        const text = body.toString('utf8');
        if (options.protocol === 'hec') {
          let events: unknown[] | Error;
          try {
            events = splitConcatenatedJson(text);
            record.events = events;
          } catch (err) {
            events = err as Error;
          }
          decision = hecDecision(options, req, events);
        } else {
          record.events = parseJsonBody(req, text);
          decision = jsonDecision(options, req, text, record.events);
        }
      } catch {
        decision = options.protocol === 'hec' ? { status: 400, body: { text: 'Invalid data format', code: 6 }, accepted: false } : { status: 400, body: { error: 'unreadable body' }, accepted: false };
      }
      if (fault?.kind === 'slow') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send(decision);
        }, fault.delayMs);
        timers.add(timer);
      } else send(decision);
    });
  };

  const server = options.pki === undefined ? http.createServer(handler) : https.createServer({ cert: options.pki.serverCertPem, key: options.pki.serverKeyPem }, handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.pki === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    requests,
    accepted,
    acknowledged,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Ids of events: the JSON event's `id`, HEC's `event.id`, or a raw record's `Id`. */
export function eventId(event: unknown): string | undefined {
  const e = event as Record<string, unknown>;
  const inner = (e.event ?? e) as Record<string, unknown>;
  const id = inner.id ?? inner.Id;
  return typeof id === 'string' ? id : undefined;
}

/** Ids seen more than once. */
export function duplicates(ids: readonly (string | undefined)[]): string[] {
  const seen = new Set<string | undefined>();
  const dup: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) dup.push(String(id));
    seen.add(id);
  }
  return dup;
}
