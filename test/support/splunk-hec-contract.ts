// A Splunk HTTP Event Collector written from Splunk's documentation, independent of the project's own receiver
// (siem-receiver.ts): the sink is proved against the contract, not against the code that was written with it.
// What it follows ("Format events for HTTP Event Collector", "Troubleshoot HTTP Event Collector" status codes,
// the REST reference for /services/collector/event):
// - POST /services/collector/event (and its aliases /services/collector, /services/collector/event/1.0);
//   `Authorization: Splunk <token>`: none → 401 code 2, another scheme → 401 code 3, an unknown token → 403 code 4.
// - The body is event objects one after another (whitespace between allowed), gzip when Content-Encoding says so;
//   an empty body → 400 code 5 "No data"; over `maxContentLength` → 413.
// - Events are read and checked in order. The first that fails stops the request with 400 and
//   `{"text", "code", "invalid-event-number": N}` (N counts from 0); the events before it are indexed, the ones
//   after it are not. Checks: JSON that does not parse or is not an object → code 6 "Invalid data format"; no
//   `event` → code 12 "Event field is required"; `event` null or "" → code 13 "Event field cannot be blank";
//   `time` that is not epoch seconds (a number, or a string of one) → code 6 "Invalid data format".
// - Success: 200 `{"text":"Success","code":0}`.
// `refuse` stands for the reasons a real index refuses an event that the wire format cannot show (a test marks
// events with it); such an event is answered like any other per-event refusal (code 6).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface HecContractOptions {
  token: string;
  /** Bytes of body (after gunzip) above which the request gets 413. Default: Splunk's 800 MB. */
  maxContentLength?: number;
  /** Events the index refuses, answered as code 6 at their position. */
  refuse?: (event: Record<string, unknown>) => boolean;
}

export interface HecContractRequest {
  status: number;
  /** Events in the body (as far as it could be read). */
  events: number;
  /** Events of this request that were indexed. */
  indexed: number;
  answer: unknown;
}

export interface HecContractReceiver {
  url: string;
  /** Every event indexed, in order. */
  indexed: Record<string, unknown>[];
  requests: HecContractRequest[];
  close(): Promise<void>;
}

const eventPaths = new Set(['/services/collector/event', '/services/collector', '/services/collector/event/1.0']);

/** Reads the concatenated objects; stops at the first piece that is not a JSON object (its index is returned). */
function readEvents(text: string): { events: unknown[]; brokenAt?: number } {
  const events: unknown[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    if (text[i] !== '{') return { events, brokenAt: events.length };
    // Find the end of this object by depth, honouring strings.
    let depth = 0;
    let inString = false;
    let end = -1;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        end = j + 1;
        break;
      }
    }
    if (end < 0) return { events, brokenAt: events.length };
    try {
      events.push(JSON.parse(text.slice(i, end)));
    } catch {
      return { events, brokenAt: events.length };
    }
    i = end;
  }
  return { events };
}

const isEpoch = (time: unknown) =>
  time === undefined || (typeof time === 'number' && Number.isFinite(time)) || (typeof time === 'string' && /^\d+(\.\d+)?$/.test(time));

/** Why the event at this position is refused (text, code), or undefined. */
function checkEvent(value: unknown, refuse: HecContractOptions['refuse']): [string, number] | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['Invalid data format', 6];
  const event = value as Record<string, unknown>;
  if (!('event' in event)) return ['Event field is required', 12];
  if (event.event === null || event.event === '') return ['Event field cannot be blank', 13];
  if (!isEpoch(event.time)) return ['Invalid data format', 6];
  if (refuse?.(event)) return ['Invalid data format', 6];
  return undefined;
}

export async function startHecContractReceiver(options: HecContractOptions): Promise<HecContractReceiver> {
  const indexed: Record<string, unknown>[] = [];
  const requests: HecContractRequest[] = [];
  const sockets = new Set<Socket>();
  const maxContentLength = options.maxContentLength ?? 838_860_800;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const record: HecContractRequest = { status: 0, events: 0, indexed: 0, answer: undefined };
      requests.push(record);
      const answer = (status: number, body: Record<string, unknown>) => {
        record.status = status;
        record.answer = body;
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      };
      const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
      if (req.method !== 'POST' || !eventPaths.has(path)) return answer(404, { text: 'The requested URL was not found on this server.', code: 404 });
      const auth = req.headers.authorization;
      if (auth === undefined) return answer(401, { text: 'Token is required', code: 2 });
      if (!auth.startsWith('Splunk ')) return answer(401, { text: 'Invalid authorization', code: 3 });
      if (auth.slice('Splunk '.length) !== options.token) return answer(403, { text: 'Invalid token', code: 4 });
      let body: Buffer;
      try {
        const wire = Buffer.concat(chunks);
        body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
      } catch {
        return answer(400, { text: 'Invalid data format', code: 6 });
      }
      if (body.length > maxContentLength) return answer(413, { text: `Content-Length of ${body.length} too large (maximum is ${maxContentLength})` }); // no HEC code is documented for it
      const text = body.toString('utf8');
      if (text.trim() === '') return answer(400, { text: 'No data', code: 5 });
      const { events, brokenAt } = readEvents(text);
      record.events = events.length + (brokenAt === undefined ? 0 : 1);
      for (const [n, value] of events.entries()) {
        const refused = checkEvent(value, options.refuse);
        if (refused !== undefined) return answer(400, { text: refused[0], code: refused[1], 'invalid-event-number': n });
        indexed.push(value as Record<string, unknown>);
        record.indexed++;
      }
      if (brokenAt !== undefined) return answer(400, { text: 'Invalid data format', code: 6, 'invalid-event-number': brokenAt });
      answer(200, { text: 'Success', code: 0 });
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    indexed,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
