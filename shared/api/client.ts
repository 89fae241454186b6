// The Management Activity API client. Every call goes the same way: the per-tenant limiter, a token from the
// tenant's credential, a URL built from our endpoint table (never a received one), the one HTTP client, and the
// one retry policy around it all. Content bodies are streamed, after a peek at the first byte tells an error
// object from the records array.
import type { z } from 'zod';
import type { Logger } from '../log.js';
import type { Endpoints } from './clouds.js';
import { systemClock, type Clock } from './clock.js';
import type { ContentType } from './content-types.js';
import { apiError, ContentExpiredError, errorFromAnswer, ManagementApiError } from './errors.js';
import { contentIdFromUri, contentUrl, feedRoot, isGuid, nextPageUrl, sameOrigin, type ListingOperation } from './feed-url.js';
import { createHttpTransport, readBody, type HttpAnswer, type HttpTransport } from './http.js';
import { createRequestLimiter, DEFAULT_REQUESTS_PER_MINUTE, type RequestLimiter } from './limiter.js';
import { defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from './retry.js';
import {
  ContentItem,
  ErrorBody,
  NotificationItem,
  Subscription,
  SubscriptionList,
  WebhookSpec,
} from './schemas.js';
import { createStartGuard, type StartGuard } from './start-guard.js';
import { classifyListedItem, type Listed } from './listed-item.js';
import { parseApiTime } from '../api-time.js';
import type { TokenSource } from './credentials.js';
import { formatApiTime, planWindows, type Window, type WindowPlanOptions } from './windows.js';
import type { Telemetry } from '../telemetry.js';

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** Epoch ms: no attempt starts after it, and requests in flight are cancelled at it. */
  deadline?: number | undefined;
}

export interface ManagementClientOptions {
  endpoints: Endpoints;
  tokens: TokenSource;
  /** GUID sent as PublisherIdentifier on every request (the app registration's home tenant by default). */
  publisherId: string;
  http?: HttpTransport;
  retryPolicy?: RetryPolicy;
  limiter?: RequestLimiter;
  requestsPerMinute?: number;
  clock?: Clock;
  random?: () => number;
  startGuard?: StartGuard;
  logger?: Logger;
  /** Retries and throttles are counted here (by tenant, content type, operation). */
  telemetry?: Telemetry;
  responseTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export type StartOutcome =
  | { outcome: 'started'; subscription: Subscription }
  /** AF20024: it was already enabled, which counts as success. */
  | { outcome: 'already-enabled'; subscription: null };

/** A content body as it arrives, after the first byte showed it is an array of records. */
export interface ContentBody extends AsyncIterable<Uint8Array> {
  readonly contentLength: number | undefined;
  /** Releases the connection when the body will not be read to the end. */
  cancel(): void;
}

export interface FetchOptions extends CallOptions {
  /** From the listing or notification: past it the blob is not asked for (ContentExpiredError). */
  contentExpiration?: string | Date | undefined;
}

/** The operations for one tenant. */
export interface TenantFeed {
  readonly tenantId: string;
  startSubscription(contentType: ContentType, webhook?: WebhookSpec, options?: CallOptions): Promise<StartOutcome>;
  stopSubscription(contentType: ContentType, options?: CallOptions): Promise<void>;
  listSubscriptions(options?: CallOptions): Promise<Subscription[]>;
  /**
   * Every item of one window (≤ 24 h), following every NextPageUri. An odd item comes as `refused` (with its reason
   * and raw JSON) among the good ones; it never fails the page.
   */
  listContent(contentType: ContentType, window: Window, options?: CallOptions): AsyncGenerator<Listed<ContentItem>>;
  /** `[since, until)` planned into windows the API accepts, listed one after the other. */
  listContentRange(
    contentType: ContentType,
    range: { since: Date; until: Date },
    options?: CallOptions & WindowPlanOptions,
  ): AsyncGenerator<Listed<ContentItem>>;
  /** Delivery attempts of the webhook, for diagnostics only (never to decide what content exists). */
  listNotifications(contentType: ContentType, window?: Window, options?: CallOptions): AsyncGenerator<Listed<NotificationItem>>;
  fetchContent(contentId: string, options?: FetchOptions): Promise<ContentBody>;
  /** For a contentUri received from outside: checked against the expected form, then fetched by its id. */
  fetchContentUri(contentUri: string, options?: FetchOptions): Promise<ContentBody>;
}

export interface ManagementClient {
  tenant(tenantId: string): TenantFeed;
  fetchContent(tenantId: string, contentId: string, options?: FetchOptions): Promise<ContentBody>;
  readonly endpoints: Endpoints;
  close(): void;
}

const LISTING_BODY_LIMIT = 64 * 1024 * 1024; // listings are pages of at most a few thousand items
const ERROR_BODY_LIMIT = 1024 * 1024;
const MAX_PAGES = 100_000;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

function header(answer: HttpAnswer, ...names: string[]): string | undefined {
  // Node lower-cases incoming header names, so any case the server used matches.
  for (const name of names) {
    const value = answer.headers[name.toLowerCase()];
    const text = Array.isArray(value) ? value[0] : value;
    if (text !== undefined && text !== '') return text;
  }
  return undefined;
}

export function createManagementClient(options: ManagementClientOptions): ManagementClient {
  const { endpoints, tokens, publisherId } = options;
  if (!isGuid(publisherId)) throw new TypeError('publisherId must be a GUID');
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const http = options.http ?? createHttpTransport();
  const ownsHttp = options.http === undefined;
  const limiter =
    options.limiter ?? createRequestLimiter({ perMinute: options.requestsPerMinute ?? DEFAULT_REQUESTS_PER_MINUTE, clock });
  const startGuard = options.startGuard ?? createStartGuard();
  const retryPolicy = options.retryPolicy ?? defaultRetryPolicy;
  const responseTimeoutMs = options.responseTimeoutMs ?? 30_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const log = options.logger;

  interface Operation {
    tenantId: string;
    operation: string;
    contentType?: string | undefined;
    contentId?: string | undefined;
    method: 'GET' | 'POST';
    url: URL;
    body?: string;
  }

  function requestSignal(call: CallOptions): AbortSignal | undefined {
    const signals: AbortSignal[] = [];
    if (call.signal) signals.push(call.signal);
    if (call.deadline !== undefined) signals.push(AbortSignal.timeout(Math.max(0, call.deadline - clock.now())));
    return signals.length === 0 ? undefined : AbortSignal.any(signals);
  }

  /** One request with retries; `accept` turns a 2xx answer into the result (and may throw a typed error). */
  async function send<T>(op: Operation, call: CallOptions, accept: (answer: HttpAnswer) => Promise<T>): Promise<T> {
    const context = { tenantId: op.tenantId, operation: op.operation, contentType: op.contentType, contentId: op.contentId };
    const url = new URL(op.url);
    url.searchParams.set('PublisherIdentifier', publisherId);
    // Belt and braces: URLs are built from our table, and a token never leaves for another origin.
    if (!sameOrigin(url, endpoints.apiOrigin)) throw apiError('URL_REFUSED', { ...context, detail: 'not the API origin' });
    return withRetry(
      async () => {
        await limiter.acquire(op.tenantId, { signal: call.signal, deadline: call.deadline });
        const token = await tokens.token(op.tenantId, { signal: call.signal });
        const answer = await http.request({
          method: op.method,
          url,
          headers: {
            Authorization: `Bearer ${token}`,
            Accept: 'application/json',
            ...(op.body !== undefined ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
          },
          ...(op.body !== undefined ? { body: op.body } : {}),
          signal: requestSignal(call),
          responseTimeoutMs,
          idleTimeoutMs,
        });
        if (answer.status >= 200 && answer.status < 300) return accept(answer);
        const error = await errorOf(answer, context);
        if (error.status === 429 || error.code === 'AF429') await reportThrottle(op.tenantId, error.retryAfterMs);
        throw error;
      },
      {
        policy: retryPolicy,
        clock,
        random,
        deadline: call.deadline,
        signal: call.signal,
        onRetry: ({ attempt, delayMs, error }) => {
          log?.warn('management API call will be retried', { ...context, attempt, delayMs, code: error.code, status: error.status });
          const dimensions = { tenantId: op.tenantId, contentType: op.contentType ?? '', operation: op.operation, code: error.code };
          options.telemetry?.metric('api.retries', 1, dimensions);
          if (error.status === 429) options.telemetry?.metric('api.throttled', 1, dimensions);
        },
      },
    );
  }

  /** A throttle backs the tenant off for every caller sharing the limiter; the limiter's own trouble is only logged. */
  async function reportThrottle(tenantId: string, retryAfterMs: number | undefined): Promise<void> {
    try {
      await limiter.throttled?.(tenantId, retryAfterMs);
    } catch (err) {
      log?.warn('could not record the throttle in the shared request budget', { tenantId, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async function errorOf(answer: HttpAnswer, context: Record<string, string | undefined>): Promise<ManagementApiError> {
    const retryAfterMs = parseRetryAfter(answer.headers['retry-after'], clock.now());
    const isRedirect = answer.status >= 300 && answer.status < 400;
    let parsed: { code?: string | undefined; message?: string | undefined } | undefined;
    if (isRedirect) {
      answer.body.destroy();
    } else {
      const text = await readBody(answer.body, ERROR_BODY_LIMIT).then((b) => b.toString('utf8')).catch(() => '');
      parsed = parseErrorBody(text);
    }
    return errorFromAnswer(answer.status, parsed, {
      ...context,
      retryAfterMs,
      ...(isRedirect ? { detail: `redirect to ${safeHost(header(answer, 'location'))} not followed` } : {}),
    });
  }

  async function readJson(answer: HttpAnswer, context: Record<string, string | undefined>): Promise<unknown> {
    const text = (await readBody(answer.body, LISTING_BODY_LIMIT)).toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw apiError('UNEXPECTED_RESPONSE', { ...context, detail: 'the answer is not JSON' });
    }
  }

  function shapeError(context: Record<string, string | undefined>, what: string): ManagementApiError {
    return apiError('UNEXPECTED_RESPONSE', { ...context, detail: `the answer is not ${what}` });
  }

  function feedFor(rawTenantId: string): TenantFeed {
    if (!isGuid(rawTenantId)) throw apiError('URL_REFUSED', { detail: 'tenant id is not a GUID' });
    const tenantId = rawTenantId.toLowerCase();
    const root = feedRoot(endpoints.apiOrigin, tenantId);

    async function startSubscription(contentType: ContentType, webhook?: WebhookSpec, call: CallOptions = {}): Promise<StartOutcome> {
      const context = { tenantId, operation: 'subscriptions/start', contentType };
      const spec = webhook === undefined ? undefined : WebhookSpec.parse(webhook);
      // The API wants 15 minutes between start requests; counted from when we send one, whatever its answer.
      const waitMs = startGuard.check(`${tenantId}|${contentType}`, clock.now());
      if (waitMs > 0) throw apiError('START_THROTTLED', { ...context, retryAfterMs: waitMs });
      startGuard.record(`${tenantId}|${contentType}`, clock.now());
      const url = new URL(`${root}/subscriptions/start`);
      url.searchParams.set('contentType', contentType);
      const body = spec === undefined ? undefined : JSON.stringify({ webhook: { ...spec, expiration: spec.expiration ?? null } });
      try {
        return await send({ ...context, method: 'POST', url, ...(body !== undefined ? { body } : {}) }, call, async (answer) => {
          const parsed = Subscription.safeParse(await readJson(answer, context));
          if (!parsed.success) throw shapeError(context, 'a subscription');
          return { outcome: 'started', subscription: parsed.data } as const;
        });
      } catch (err) {
        if (err instanceof ManagementApiError && err.code === 'AF20024') return { outcome: 'already-enabled', subscription: null };
        throw err;
      }
    }

    async function stopSubscription(contentType: ContentType, call: CallOptions = {}): Promise<void> {
      const context = { tenantId, operation: 'subscriptions/stop', contentType };
      const url = new URL(`${root}/subscriptions/stop`);
      url.searchParams.set('contentType', contentType);
      await send({ ...context, method: 'POST', url }, call, async (answer) => {
        await readBody(answer.body, ERROR_BODY_LIMIT);
      });
    }

    async function listSubscriptions(call: CallOptions = {}): Promise<Subscription[]> {
      const context = { tenantId, operation: 'subscriptions/list' };
      return send({ ...context, method: 'GET', url: new URL(`${root}/subscriptions/list`) }, call, async (answer) => {
        const parsed = SubscriptionList.safeParse((await readJson(answer, context)) ?? []);
        if (!parsed.success) throw shapeError(context, 'a list of subscriptions');
        return parsed.data;
      });
    }

    /** Pages of a listing: each page is one retried request; the next page's URL is checked and rebuilt. */
    async function* pages<T>(
      operation: ListingOperation,
      contentType: ContentType,
      window: Window | undefined,
      parse: (items: unknown, context: Record<string, string | undefined>, page: number) => T[],
      call: CallOptions,
    ): AsyncGenerator<T> {
      const context = { tenantId, operation: `subscriptions/${operation}`, contentType };
      let url: URL | undefined = new URL(`${root}/subscriptions/${operation}`);
      url.searchParams.set('contentType', contentType);
      if (window) {
        url.searchParams.set('startTime', formatApiTime(window.start));
        url.searchParams.set('endTime', formatApiTime(window.end));
      }
      const seen = new Set<string>();
      for (let page = 0; url !== undefined; page++) {
        if (page >= MAX_PAGES) throw apiError('UNEXPECTED_RESPONSE', { ...context, detail: 'too many pages' });
        const { items, next }: { items: T[]; next: string | undefined } = await send(
          { ...context, method: 'GET', url },
          call,
          async (answer) => ({
            items: parse((await readJson(answer, context)) ?? [], context, page),
            next: header(answer, 'NextPageUri', 'NextPageUrl'),
          }),
        );
        yield* items;
        if (next === undefined) return;
        const checked = nextPageUrl(next, endpoints.apiOrigin, tenantId, operation);
        if (!checked.ok) throw apiError('URL_REFUSED', { ...context, detail: `NextPageUri ${checked.reason}` });
        const key = checked.url.searchParams.get('nextPage') ?? '';
        if (seen.has(key)) throw apiError('UNEXPECTED_RESPONSE', { ...context, detail: 'NextPageUri repeats an earlier page' });
        seen.add(key);
        url = checked.url;
      }
    }

    /** A page is parsed item by item: an odd item is yielded as refused, and the page's other items go on. */
    function parseItems<S extends typeof ContentItem | typeof NotificationItem>(schema: S, contentType: ContentType) {
      const expected = { apiOrigin: endpoints.apiOrigin, tenantId, contentType };
      return (value: unknown, context: Record<string, string | undefined>, page: number): Listed<z.infer<S>>[] => {
        // Only a page that is not a list at all fails the listing.
        if (!Array.isArray(value)) throw shapeError(context, 'a list of content items');
        return value.map((raw: unknown, index) => classifyListedItem(schema, raw, expected, { page, index }));
      };
    }

    function listContent(contentType: ContentType, window: Window, call: CallOptions = {}): AsyncGenerator<Listed<ContentItem>> {
      return pages('content', contentType, window, parseItems(ContentItem, contentType), call);
    }

    async function* listContentRange(
      contentType: ContentType,
      range: { since: Date; until: Date },
      call: CallOptions & WindowPlanOptions = {},
    ): AsyncGenerator<Listed<ContentItem>> {
      const plan = planWindows(range.since, range.until, new Date(clock.now()), call);
      if (plan.clipped) {
        log?.warn('content older than the API keeps cannot be listed', {
          tenantId,
          contentType,
          requestedSince: plan.clipped.requestedSince.toISOString(),
          effectiveSince: plan.clipped.effectiveSince.toISOString(),
        });
      }
      for (const window of plan.windows) yield* listContent(contentType, window, call);
    }

    function listNotifications(contentType: ContentType, window?: Window, call: CallOptions = {}): AsyncGenerator<Listed<NotificationItem>> {
      return pages('notifications', contentType, window, parseItems(NotificationItem, contentType), call);
    }

    async function fetchContent(contentId: string, call: FetchOptions = {}): Promise<ContentBody> {
      const context = { tenantId, operation: 'fetch content', contentId };
      const url = new URL(contentUrl(endpoints.apiOrigin, tenantId, contentId));
      if (call.contentExpiration !== undefined) {
        // The one parser for API times (Date would read a time without a zone as local time). An unreadable
        // expiration is no reason to refuse: the API answers AF20051 itself if it has expired.
        const expires = call.contentExpiration instanceof Date ? call.contentExpiration.getTime() : parseApiTime(call.contentExpiration);
        if (expires !== undefined && !Number.isNaN(expires) && clock.now() >= expires) {
          throw new ContentExpiredError({ ...context, detectedBy: 'contentExpiration', detail: `it expired at ${new Date(expires).toISOString()}` });
        }
      }
      return send({ ...context, method: 'GET', url }, call, (answer) => openContent(answer, context));
    }

    async function fetchContentUri(contentUri: string, call: FetchOptions = {}): Promise<ContentBody> {
      const checked = contentIdFromUri(contentUri, endpoints.apiOrigin, tenantId);
      if (!checked.ok) throw apiError('URL_REFUSED', { tenantId, operation: 'fetch content', detail: `contentUri ${checked.reason}` });
      return fetchContent(checked.contentId, call);
    }

    return {
      tenantId,
      startSubscription,
      stopSubscription,
      listSubscriptions,
      listContent,
      listContentRange,
      listNotifications,
      fetchContent,
      fetchContentUri,
    };
  }

  /**
   * Reads until the first non-whitespace byte: `[` is a records array (streamed on), `{` is an error object
   * (read whole and thrown as its typed error, so it is never mistaken for records), anything else is refused.
   */
  async function openContent(answer: HttpAnswer, context: Record<string, string | undefined>): Promise<ContentBody> {
    const body = answer.body;
    const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const head: Buffer[] = [];
    let first: number | undefined;
    try {
      while (first === undefined) {
        const step = await iterator.next();
        if (step.done) break;
        head.push(step.value);
        first = firstSignificantByte(head);
      }
    } catch (err) {
      throw interrupted(err, context);
    }
    if (first === undefined) {
      throw apiError('CONTENT_INTERRUPTED', { ...context, status: answer.status, detail: 'the body is empty' });
    }
    if (first === 0x7b /* { */) {
      const rest = await readBody({ [Symbol.asyncIterator]: () => iterator }, ERROR_BODY_LIMIT).catch(() => Buffer.alloc(0));
      const parsed = parseErrorBody(Buffer.concat([...head, rest]).toString('utf8'));
      if (parsed?.code) throw errorFromAnswer(answer.status, parsed, context);
      throw apiError('UNEXPECTED_RESPONSE', { ...context, status: answer.status, detail: 'the body is an object, not a list of records' });
    }
    if (first !== 0x5b /* [ */) {
      body.destroy();
      throw apiError('UNEXPECTED_RESPONSE', { ...context, status: answer.status, detail: 'the body is not a JSON array' });
    }
    const declared = Number(header(answer, 'content-length'));
    const contentLength = Number.isFinite(declared) && declared >= 0 ? declared : undefined;
    let started = false;
    return {
      contentLength,
      cancel: () => body.destroy(),
      [Symbol.asyncIterator]() {
        if (started) throw new Error('a content body can be read once');
        started = true;
        return stream(iterator, head, body, contentLength, context);
      },
    };
  }

  async function* stream(
    iterator: AsyncIterator<Buffer>,
    head: Buffer[],
    body: HttpAnswer['body'],
    contentLength: number | undefined,
    context: Record<string, string | undefined>,
  ): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for (const chunk of head) {
        received += chunk.length;
        yield chunk;
      }
      for (;;) {
        let step: IteratorResult<Buffer>;
        try {
          step = await iterator.next();
        } catch (err) {
          throw interrupted(err, context);
        }
        if (step.done) break;
        received += step.value.length;
        yield step.value;
      }
      if (contentLength !== undefined && received < contentLength) {
        throw apiError('CONTENT_INTERRUPTED', { ...context, detail: `received ${received} of ${contentLength} bytes` });
      }
    } finally {
      body.destroy();
    }
  }

  return {
    tenant: (tenantId) => feedFor(tenantId),
    fetchContent: (tenantId, contentId, call) => feedFor(tenantId).fetchContent(contentId, call),
    endpoints,
    close: () => {
      if (ownsHttp) http.close();
    },
  };
}

function interrupted(err: unknown, context: Record<string, string | undefined>): ManagementApiError {
  if (err instanceof ManagementApiError) return err.code === 'NETWORK' ? apiError('CONTENT_INTERRUPTED', { ...context, detail: err.message, cause: err }) : err;
  const code = (err as { code?: unknown }).code;
  return apiError('CONTENT_INTERRUPTED', { ...context, detail: typeof code === 'string' ? code : 'the connection closed', cause: err });
}

function firstSignificantByte(chunks: Buffer[]): number | undefined {
  let index = 0;
  for (const chunk of chunks) {
    for (const byte of chunk) {
      // A UTF-8 byte order mark (EF BB BF) may precede the JSON.
      if (index < 3 && byte === [0xef, 0xbb, 0xbf][index]) {
        index++;
        continue;
      }
      index = 3;
      if (!WHITESPACE.has(byte)) return byte;
    }
  }
  return undefined;
}

function parseErrorBody(text: string): { code?: string | undefined; message?: string | undefined } | undefined {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text.replace(/^\ufeff/, '')));
    return parsed.success ? parsed.data.error : undefined;
  } catch {
    return undefined;
  }
}

function safeHost(location: string | undefined): string {
  if (location === undefined) return 'nowhere';
  try {
    return new URL(location).host || 'a relative location';
  } catch {
    return 'an unreadable location';
  }
}
