// The one HTTP client (node:https): our own CA trust (the simulator's CA, only when configured), a response
// timeout and an idle timeout, AbortSignal, streamed bodies, and no redirect following at all.
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { apiError, ManagementApiError } from './errors.js';

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal | undefined;
  /** Time allowed until the status line and headers arrive. */
  responseTimeoutMs: number;
  /** Time allowed without any byte while the body streams. */
  idleTimeoutMs: number;
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

export interface HttpTransportOptions {
  /** Extra CA certificates (PEM) trusted besides the system store — the simulator's CA, loopback only. */
  ca?: string | undefined;
  maxSockets?: number;
}

function networkError(err: unknown, detail: string): ManagementApiError {
  if (err instanceof ManagementApiError) return err;
  const code = (err as { code?: unknown }).code;
  return apiError('NETWORK', { detail: `${detail}${typeof code === 'string' ? ` (${code})` : ''}`, cause: err });
}

export function createHttpTransport(options: HttpTransportOptions = {}): HttpTransport {
  // An extra CA is appended to the system store, never replacing it.
  const ca = options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] };
  const agent = new https.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16, ...ca });

  function request(req: HttpRequest): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      if (req.signal?.aborted) {
        reject(apiError('ABORTED', { detail: 'cancelled before sending', cause: req.signal.reason }));
        return;
      }
      if (req.url.protocol !== 'https:') {
        reject(apiError('URL_REFUSED', { detail: 'only https is used' }));
        return;
      }
      const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
      const outgoing = https.request(req.url, {
        method: req.method,
        agent,
        headers: { ...req.headers, 'Content-Length': String(body?.length ?? 0) },
      });
      let settled = false;
      const fail = (err: ManagementApiError) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
        outgoing.destroy(err);
      };
      const onAbort = () => fail(apiError('ABORTED', { detail: 'cancelled while waiting for the answer', cause: req.signal?.reason }));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const responseTimer = setTimeout(
        () => fail(apiError('NETWORK', { detail: `no answer within ${req.responseTimeoutMs} ms` })),
        req.responseTimeoutMs,
      );
      outgoing.on('error', (err) => {
        clearTimeout(responseTimer);
        req.signal?.removeEventListener('abort', onAbort);
        if (!settled) {
          settled = true;
          reject(networkError(err, `request to ${req.url.host} failed`));
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
        const onIdle = () => res.destroy(apiError('NETWORK', { detail: `the body stalled for ${req.idleTimeoutMs} ms` }));
        socket?.setTimeout(req.idleTimeoutMs);
        socket?.on('timeout', onIdle);
        const onBodyAbort = () => res.destroy(apiError('ABORTED', { detail: 'cancelled while reading the body', cause: req.signal?.reason }));
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

  return { request, agent, close: () => agent.destroy() };
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
