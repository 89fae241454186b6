// The simulator's outgoing POSTs (validation handshake and notifications). They only ever go to loopback
// addresses: the simulator never leaves the machine, so any other host counts as "did not answer 200".
import http from 'node:http';
import https from 'node:https';

export type PostOutcome = { status: number } | { error: string };

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export function isLoopbackUrl(url: URL): boolean {
  return loopbackHosts.has(url.hostname);
}

/**
 * Allowed webhook addresses: https per the doc, plus (simulator allowance) plain http on a loopback host,
 * because the local Functions host serves http on 127.0.0.1.
 */
export function webhookAddressProblem(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return 'The address must begin with HTTPS.';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackUrl(url)) return undefined;
  return 'The address must begin with HTTPS.';
}

export interface PostOptions {
  timeoutMs: number;
  /** Extra CA for https webhooks on loopback (e.g. a test's own certificate). */
  caPem?: string;
  /** Local address to send from (e.g. 127.0.0.2), so the receiver can tell the API's calls from others. */
  localAddress?: string;
}

export function postJson(address: string, headers: Record<string, string>, body: string, options: PostOptions): Promise<PostOutcome> {
  const url = new URL(address);
  if (!isLoopbackUrl(url)) return Promise.resolve({ error: `refusing to leave the machine: ${url.hostname} is not loopback` });
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = transport.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
        timeout: options.timeoutMs,
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        ...(url.protocol === 'https:' && options.caPem ? { ca: options.caPem } : {}),
      },
      (response) => {
        response.resume(); // the answer's body does not matter, only its status
        response.on('end', () => resolve({ status: response.statusCode ?? 0 }));
        response.on('error', (err) => resolve({ error: err.message }));
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    request.on('error', (err) => resolve({ error: err.message }));
    request.end(body);
  });
}
