// HTTP triggers at http://127.0.0.1:<port>/<routePrefix>/<route>. The request goes to the app as the host sends
// it (RpcHttpData: lower-cased headers, query, route params, raw body bytes) and the app's `$return` http data
// (already converted from HttpResponseInit or HttpResponse by the app's own @azure/functions) becomes the answer.
// As with Core Tools, auth levels are not enforced locally. A failed or timed-out invocation answers 500. A body
// over 100 MB is answered 413 as it streams in, as Azure's front end does, so local memory figures mean something.
// With `allowedSourceAddresses`, a request from any other address is answered 403 before routing, as Azure's access
// restrictions (default action Deny) do: the simulator's webhook calls come from 127.0.0.2, the app's own from 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shared/log';
import { errorFields } from '../../shared/log';
import type { RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcNullableString } from './core-contract';
import type { InvocationRequest } from './invocation';
import { compileRoute, type RouteMatcher, type RouteParams } from './http-route';

export interface HttpFunction {
  functionName: string;
  triggerBindingName: string;
  route: string;
  methods: readonly string[];
  /** Runs the function and writes its other outputs; throws when the invocation failed. */
  run(request: InvocationRequest, bindingData: Record<string, unknown>): Promise<RpcInvocationResponse>;
}

export interface HttpServerOptions {
  functions: readonly HttpFunction[];
  routePrefix: string;
  port: number;
  logger: Logger;
  /** Requests above this are answered 413 as they arrive, never read whole. Default Azure's 100 MB. */
  maxRequestBytes?: number;
  /** Inbound allow-list of source addresses (exact IPv4/IPv6 text); others get 403. Default: everyone. */
  allowedSourceAddresses?: readonly string[];
}

/** Azure's front end refuses HTTP requests over 100 MB (104,857,600 bytes) to a function app. */
export const azureMaxRequestBytes = 100 * 1024 * 1024;

export interface RunningHttpServer {
  url: string;
  close(): Promise<void>;
}

const nullable = (entries: Iterable<[string, string]>): Record<string, RpcNullableString> =>
  Object.fromEntries([...entries].map(([k, v]) => [k, { value: v }]));

export function httpRequestData(req: IncomingMessage, body: Buffer, params: RouteParams): RpcHttpData {
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  const headers: [string, string][] = Object.entries(req.headers)
    .filter((e): e is [string, string | string[]] => e[1] !== undefined)
    .map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]);
  const query = new Map<string, string>();
  for (const [k, v] of url.searchParams) query.set(k, query.has(k) ? `${query.get(k)},${v}` : v);
  return {
    method: req.method ?? 'GET',
    url: url.toString(),
    nullableHeaders: nullable(headers),
    nullableQuery: nullable(query),
    nullableParams: nullable(Object.entries(params)),
    ...(body.length > 0 ? { body: { bytes: body } } : {}),
  };
}

const sameSite: Record<string, string | undefined> = { lax: 'Lax', strict: 'Strict', none: undefined, explicitNone: 'None' };

export function setCookieHeader(cookie: RpcHttpCookie): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const expires = cookie.expires?.value?.seconds;
  if (typeof expires === 'number') parts.push(`Expires=${new Date(expires * 1000).toUTCString()}`);
  if (typeof cookie.maxAge?.value === 'number') parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const site = cookie.sameSite ? sameSite[cookie.sameSite] : undefined;
  if (site) parts.push(`SameSite=${site}`);
  return parts.join('; ');
}

function writeAnswer(res: ServerResponse, response: RpcInvocationResponse): void {
  const http = response.returnValue?.http;
  if (!http) {
    res.writeHead(204).end();
    return;
  }
  for (const [name, value] of Object.entries(http.headers ?? {})) res.setHeader(name, value);
  const cookies = (http.cookies ?? []).map(setCookieHeader);
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  const body = http.body;
  const bytes = body?.bytes ?? body?.stream;
  const payload = bytes ? Buffer.from(bytes) : typeof body?.string === 'string' ? body.string : typeof body?.json === 'string' ? body.json : undefined;
  if (payload !== undefined && !res.hasHeader('content-length')) res.setHeader('content-length', Buffer.byteLength(payload));
  res.writeHead(Number(http.statusCode) || 200);
  res.end(payload);
}

/** A JSON object body's properties are binding data too (e.g. `{contentId}` in an output path). */
function jsonObject(body: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The body, or undefined once it is over `limit` (declared or counted as it streams in; the rest is not read). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** The peer's address as text, an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 form. */
export function sourceAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

function refuseTooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  // Closing the connection is the only way to stop a sender mid-body; the answer goes out first.
  res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' }).end(`request body over ${limit} bytes`, () => req.destroy());
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const prefix = options.routePrefix ? `/${options.routePrefix}` : '';
  const limit = options.maxRequestBytes ?? azureMaxRequestBytes;
  const routes: { fn: HttpFunction; match: RouteMatcher }[] = options.functions.map((fn) => ({ fn, match: compileRoute(fn.route) }));
  const allowed = options.allowedSourceAddresses === undefined ? undefined : new Set(options.allowedSourceAddresses);

  const server = createServer((req, res) => {
    void (async () => {
      if (allowed && !allowed.has(sourceAddress(req))) {
        options.logger.info('request refused by the inbound allow-list', { source: sourceAddress(req), method: req.method, path: new URL(req.url ?? '/', 'http://localhost').pathname });
        // Answered without reading the body; the connection closes so an unread body cannot linger.
        res.writeHead(403, { connection: 'close', 'content-type': 'text/plain' }).end('Ip Forbidden', () => req.destroy());
        return;
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const rest = prefix === '' ? path : path.toLowerCase().startsWith(`${prefix.toLowerCase()}/`) ? path.slice(prefix.length) : undefined;
      const method = (req.method ?? 'GET').toUpperCase();
      let found: { fn: HttpFunction; params: RouteParams } | undefined;
      for (const route of rest === undefined ? [] : routes) {
        const params = route.match(rest as string);
        if (params && route.fn.methods.includes(method)) {
          found = { fn: route.fn, params };
          break;
        }
      }
      if (!found) {
        if ((await readBody(req, limit)) === undefined) refuseTooLarge(req, res, limit);
        else res.writeHead(404).end();
        return;
      }
      const body = await readBody(req, limit);
      if (body === undefined) {
        refuseTooLarge(req, res, limit);
        return;
      }
      const data = httpRequestData(req, body, found.params);
      const bindingData = { ...jsonObject(body), ...Object.fromEntries(new URL(data.url ?? '', 'http://localhost').searchParams), ...found.params };
      try {
        const response = await found.fn.run({ inputData: [{ name: found.fn.triggerBindingName, data: { http: data } }] }, bindingData);
        writeAnswer(res, response);
      } catch (err) {
        options.logger.debug('http invocation failed', { function: found.fn.functionName, ...errorFields(err) });
        if (!res.headersSent) res.writeHead(500);
        res.end();
      }
    })().catch((err: unknown) => {
      options.logger.error('http request handling failed', errorFields(err));
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
