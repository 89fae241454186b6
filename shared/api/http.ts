// The one HTTP client (node:https): our own CA trust (the simulator's or a sink's private CA, only when configured),
// a response timeout and an idle timeout, AbortSignal, streamed bodies, and no redirect following at all. The
// Management API and the HTTP sinks both send through it; what differs between them is options.
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { apiError, ManagementApiError } from './errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal | undefined;
  /** Time allowed until the status line and headers arrive; none if omitted (the signal bounds the call). */
  responseTimeoutMs?: number;
  /** Time allowed without any byte while the body streams; none if omitted. */
  idleTimeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as it arrives; the caller must consume or destroy it. */
  body: IncomingMessage;
}

export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpAnswer>;
  /** The agent (CA trust, keep-alive), shared with the sign-in pipeline so both trust the same CAs. */
  readonly agent: https.Agent;
  close(): void;
}

/** Builds the error a failure on our side is thrown as: the API wants its typed errors, the sinks plain ones. */
export type HttpFailure = (kind: 'network' | 'aborted' | 'refused', detail: string, cause?: unknown) => Error;

const apiCodes = { network: 'NETWORK', aborted: 'ABORTED', refused: 'URL_REFUSED' } as const;
const apiFailure: HttpFailure = (kind, detail, cause) => apiError(apiCodes[kind], { detail, cause });

export interface HttpTransportOptions {
  /** Extra CA certificates (PEM) trusted besides the system store — the simulator's CA, a sink's private CA. */
  ca?: string | undefined;
  maxSockets?: number;
  /** Also plain http to loopback (a local collector, tests): the HTTP sinks only; the API is https only. */
  loopbackHttp?: boolean;
  /** ManagementApiError (NETWORK, ABORTED, URL_REFUSED) unless given. */
  failure?: HttpFailure;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Plain http is only ever allowed to these hosts (and only where a caller opts in). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && loopbackHosts.has(url.hostname);
}

const codeOf = (err: unknown) => {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? ` (${code})` : '';
};

function networkError(err: unknown, detail: string): ManagementApiError {
  if (err instanceof ManagementApiError) return err;
  return apiError('NETWORK', { detail: `${detail}${codeOf(err)}`, cause: err });
}

export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  const failure = options.failure ?? apiFailure;
  // An extra CA is appended to the system store, never replacing it.
  const ca = options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] };
  const sockets = { keepAlive: true, maxSockets: options.maxSockets ?? 16 };
  const agent = new https.Agent({ ...sockets, ...ca });
  const plainAgent = options.loopbackHttp ? new http.Agent(sockets) : undefined;

  function request(req: HttpRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (req.signal?.aborted) return reject(failure('aborted', 'cancelled before sending', req.signal.reason));
      const plain = plainAgent !== undefined && isLoopbackHttp(req.url);
      if (req.url.protocol !== 'https:' && !plain) return reject(failure('refused', 'only https is used'));
      const body = typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
      const outgoing = (plain ? http : https).request(req.url, {
        method: req.method,
        agent: plain ? plainAgent : agent,
        headers: { ...req.headers, 'Content-Length': String(body?.length ?? 0) },
      });
      let settled = false;
      const fail = (err: Error) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
        outgoing.destroy(err);
      };
      const onAbort = () => fail(failure('aborted', 'cancelled while waiting for the answer', req.signal?.reason));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const { responseTimeoutMs, idleTimeoutMs } = req;
      const responseTimer =
        responseTimeoutMs === undefined ? undefined : setTimeout(() => fail(failure('network', `no answer within ${responseTimeoutMs} ms`)), responseTimeoutMs);
      outgoing.on('error', (err) => {
        clearTimeout(responseTimer);
        req.signal?.removeEventListener('abort', onAbort);
        if (!settled) {
          settled = true;
          reject(failure('network', `request to ${req.url.host} failed${codeOf(err)}`, err));
        }
      });
      outgoing.on('response', (res) => {
        clearTimeout(responseTimer);
        req.signal?.removeEventListener('abort', onAbort);
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        // While the body streams: a quiet socket or a later abort ends the body with a typed error. The
        // listeners come off again when the body closes, since keep-alive sockets serve many requests.
        const socket = res.socket;
        const onIdle = () => res.destroy(failure('network', `the body stalled for ${idleTimeoutMs} ms`));
        if (idleTimeoutMs !== undefined) socket?.setTimeout(idleTimeoutMs).on('timeout', onIdle);
        const onBodyAbort = () => res.destroy(failure('aborted', 'cancelled while reading the body', req.signal?.reason));
        req.signal?.addEventListener('abort', onBodyAbort, { once: true });
        res.once('close', () => {
          req.signal?.removeEventListener('abort', onBodyAbort);
          socket?.off('timeout', onIdle);
          socket?.setTimeout(0);
        });
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
      });
      outgoing.end(body);
    });
  }

  return {
    request,
    agent,
    close: () => {
      agent.destroy();
      plainAgent?.destroy();
    },
  };
}

/** Reads a whole (small) body; refuses more than `limitBytes`. */
export async function readBody(body: AsyncIterable<Uint8Array>, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > limitBytes) throw apiError('UNEXPECTED_RESPONSE', { detail: `the answer is larger than ${limitBytes} bytes` });
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    throw networkError(err, 'the answer was cut off');
  }
  return Buffer.concat(chunks);
}
