// startSimulator: a loopback HTTPS server that plays both Entra (tokens) and the Office 365 Management
// Activity API for several tenants, with a test CA made at start-up, a journal and fault knobs.
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { AccessTokens } from './access-tokens.js';
import { handleApi, isApiPath } from './activity-api.js';
import { createServerPki, type ServerPki } from './certificates.js';
import { contentUriFor, generateContentId, isWellFormedContentId } from './content-id.js';
import { ContentStore, publishedView } from './content-store.js';
import type { SimulatorContext, SimulatorFaults, SimulatorTenant } from './context.js';
import type { Incoming, Reply } from './exchange.js';
import { flattenHeaders, Journal, type JournalEntry } from './journal.js';
import { Notifier } from './notifier.js';
import { defaultRateLimits, RateBudget, type RateLimits } from './rate-budget.js';
import { ContentTypeSchema, type ContentType, type PublishedContent } from './request-shapes.js';
import { deliversNotifications, SubscriptionBook, subscriptionView, type DisabledBy } from './subscriptions.js';
import type { OmittedWindow } from './time-window.js';
import { startManagedIdentityEndpoint, type ManagedIdentityEndpoint, type SimulatorManagedIdentity } from './managed-identity.js';
import { handleAuthority } from './token-endpoint.js';
import { postJson } from './webhook-post.js';

export interface SimulatorOptions {
  tenants: SimulatorTenant[];
  /** The server's certificate and CA, shared with another local server (a fake Key Vault); default its own. */
  pki?: ServerPki;
  /** Default 0 (ephemeral); the host is always 127.0.0.1. */
  port?: number;
  /** Items per /subscriptions/content (and /notifications) page; default 100. */
  pageSize?: number;
  /** Audience the API accepts; default 'https://manage.office.com'. */
  manageResource?: string;
  /** Clock for windows, content expiry, start spacing, budgets and webhook expiration (not token lifetimes). */
  now?: () => Date;
  /** Notifications per webhook POST; default 30. */
  notifyBatchSize?: number;
  /** How long notifications gather before a batch is sent; default 20 ms. */
  notifyGatherMs?: number;
  /** Delays before each notification retry (growing; its length bounds the retries). Default 2 s … 64 s, 6 retries. */
  notifyRetryDelaysMs?: number[];
  /** Disable the webhook when a batch has used up its retries (the service "may" do this); default true. */
  disableWebhookOnExhaustedRetries?: boolean;
  /** Timeout for validation and notification POSTs; default 5000 ms. */
  webhookTimeoutMs?: number;
  /** CA to trust for https webhooks on loopback. */
  webhookCaPem?: string;
  /** Local address the validation and notification POSTs come from (e.g. 127.0.0.2, the service tag's stand-in). */
  webhookSourceAddress?: string;
  /** Minutes between starts of one subscription before AF429 (the doc's 15-minute rule); 0 = off. Default 15. */
  startSpacingMinutes?: number;
  /** Meaning of an omitted content window; default 'last24h' (reference page; the FAQ says since midnight). */
  omittedWindow?: OmittedWindow;
  /** Per-minute budgets; default 2000 per tenant with PublisherIdentifier, 60 shared without. */
  rateLimits?: Partial<RateLimits>;
  /** Token lifetime in (real) seconds; default 3599. */
  tokenLifetimeSeconds?: number;
  /** Randomness for the drop/duplicate knobs; default Math.random. */
  random?: () => number;
  /**
   * Managed identities of the app under test: starts the App Service managed identity endpoint (sim.identity gives
   * IDENTITY_ENDPOINT and IDENTITY_HEADER). Apps trust them through `federatedCredentials`.
   */
  managedIdentities?: SimulatorManagedIdentity[];
}

export interface PublishOptions {
  contentCreated?: Date;
  contentId?: string;
}

export interface SimulatorSubscription {
  contentType: ContentType;
  status: 'enabled' | 'disabled';
  webhook: null | { status: string; address: string; authId?: string; expiration: string | null };
}

export interface Simulator {
  /** 'https://127.0.0.1:<port>'; API root = `${baseUrl}/api/v1.0/${tenantId}/activity/feed`. */
  readonly baseUrl: string;
  /** Same origin; token: POST `${authorityHost}/${tenantId}/oauth2/v2.0/token`. */
  readonly authorityHost: string;
  /** The CA that signed the server certificate. */
  readonly caCertPem: string;
  /** The same CA as a file (removed by close()). */
  readonly caCertPath: string;
  /** The managed identity endpoint (with `managedIdentities`): IDENTITY_ENDPOINT and IDENTITY_HEADER for the app. */
  readonly identity: { endpoint: string; header: string; requests: ManagedIdentityEndpoint['requests'] } | undefined;
  /** The issuer of the managed identity tokens of a tenant's identities: a federated credential's `issuer`. */
  identityIssuer(tenantId: string): string;
  readonly faults: SimulatorFaults;
  readonly journal: ReadonlyArray<JournalEntry>;
  /** `${baseUrl}/api/v1.0/${tenantId}/activity/feed`. */
  apiRoot(tenantId: string): string;
  publish(tenantId: string, contentType: ContentType, records: unknown[], options?: PublishOptions): Promise<PublishedContent>;
  /**
   * Puts `raw` (any JSON value, sent as is) on the content listing of one stream at `contentCreated` (default now),
   * among the published blobs in listing order. Nothing is stored behind it and no notification is sent: it is
   * for proving that one odd listed item costs only itself.
   */
  injectListingItem(tenantId: string, contentType: ContentType, raw: unknown, options?: { contentCreated?: Date }): void;
  /** The same with the item's JSON text spliced in verbatim (e.g. an item nested deeper than JSON.stringify goes). */
  injectListingText(tenantId: string, contentType: ContentType, jsonText: string, options?: { contentCreated?: Date }): void;
  /** Publishes a fixture file's JSON array verbatim (its exact text is what the contentUri serves). */
  publishFile(tenantId: string, contentType: ContentType, fixturePath: string, options?: PublishOptions): Promise<PublishedContent>;
  /** Publishes this exact text, valid JSON or not (a blob with an odd element, as a hostile or broken API serves it). */
  publishRaw(tenantId: string, contentType: ContentType, body: string, options?: PublishOptions): Promise<PublishedContent>;
  subscriptions(tenantId: string): SimulatorSubscription[];
  /** An admin disabled it: listing and fetching answer AF20023 until the next /start. */
  disableSubscription(tenantId: string, contentType: ContentType, by?: Exclude<DisabledBy, 'stopped'>): void;
  /** Wait until pending webhook deliveries (incl. retries) are done. */
  flushNotifications(): Promise<void>;
  /** Token requests received (all outcomes), for one tenant or all. */
  tokenRequests(tenantId?: string): number;
  /** Make every issued token (of one tenant) expired, so the API answers 401 to it. */
  expireTokens(tenantId?: string): void;
  /** One published blob's 7 days are over now: its contentUri answers AF20051 (listings show the new expiration). */
  expireContent(tenantId: string, contentId: string): void;
  /** Every secret the simulator has seen or issued (client secrets, access tokens, authIds), for secret scans. */
  knownSecrets(): string[];
  close(): Promise<void>;
}

export function defaultFaults(): SimulatorFaults {
  return {
    throttle: { remaining: 0, status: 403 },
    serverErrors: { remaining: 0, status: 500 },
    delayMs: 0,
    truncateContent: { remaining: 0 },
    expiredContent: { remaining: 0 },
    chance: { throttle: 0, serverError: 0 },
    dropNotifications: 0,
    duplicateNotifications: 0,
    failNotifyAttempts: 0,
  };
}

const maxBodyBytes = 1 << 20;

export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const tenants = new Map<string, SimulatorTenant>();
  for (const t of options.tenants) {
    tenants.set(t.tenantId, t);
  }
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const journal = new Journal();
  for (const t of options.tenants) for (const app of t.apps) journal.addSecret(app.clientSecret);
  const faults = defaultFaults();
  const subscriptions = new SubscriptionBook();
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 5000;

  const postToWebhook = async (address: string, headers: Record<string, string>, body: string) => {
    const outcome = await postJson(address, headers, body, {
      timeoutMs: webhookTimeoutMs,
      ...(options.webhookCaPem ? { caPem: options.webhookCaPem } : {}),
      ...(options.webhookSourceAddress ? { localAddress: options.webhookSourceAddress } : {}),
    });
    const url = new URL(address);
    journal.record({
      time: now().toISOString(),
      method: 'POST',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: flattenHeaders(headers),
      status: 'status' in outcome ? outcome.status : 0,
      direction: 'out',
      url: address,
      body: JSON.parse(body) as unknown,
    });
    return outcome;
  };

  const pki = options.pki ?? (await createServerPki());
  // A shared PKI belongs to whoever made it; the simulator removes only its own.
  const removePki = () => (options.pki === undefined ? pki.remove() : Promise.resolve());
  let baseUrl = '';
  const ctx: SimulatorContext = {
    get baseUrl() {
      return baseUrl;
    },
    manageResource: (options.manageResource ?? 'https://manage.office.com').replace(/\/$/, ''),
    pageSize: options.pageSize ?? 100,
    startSpacingMinutes: options.startSpacingMinutes ?? 15,
    omittedWindow: options.omittedWindow ?? 'last24h',
    webhookTimeoutMs,
    now,
    random,
    tenants,
    tokens: new AccessTokens(options.tokenLifetimeSeconds ?? 3599),
    tokenRequestCounts: new Map(),
    faults,
    subscriptions,
    content: new ContentStore(),
    notifier: new Notifier({
      batchSize: options.notifyBatchSize ?? 30,
      gatherMs: options.notifyGatherMs ?? 20,
      retryDelaysMs: options.notifyRetryDelaysMs ?? [2000, 4000, 8000, 16000, 32000, 64000],
      now,
      random,
      faults,
      target(tenantId, contentType) {
        const s = subscriptions.get(tenantId, contentType);
        if (!deliversNotifications(s, now())) return undefined;
        return { address: s.webhook.address, ...(s.webhook.authId === undefined ? {} : { authId: s.webhook.authId }) };
      },
      onExhausted(tenantId, contentType) {
        const s = subscriptions.get(tenantId, contentType);
        if (s?.webhook && (options.disableWebhookOnExhaustedRetries ?? true)) subscriptions.set(tenantId, { ...s, webhook: { ...s.webhook, disabled: true } });
      },
      post: postToWebhook,
    }),
    budget: new RateBudget({ ...defaultRateLimits, ...options.rateLimits }),
    postToWebhook,
    addSecret: (value) => journal.addSecret(value),
    identityToken: (text) => identityEndpoint?.lookup(text),
  };
  const identityIssuer = (tenantId: string) => `${baseUrl}/${tenantId}/v2.0`;
  let identityEndpoint: ManagedIdentityEndpoint | undefined;

  const server = https.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    request.on('end', () => {
      const rawUrl = request.url ?? '/';
      const queryAt = rawUrl.indexOf('?');
      const path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
      const rawQuery = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);
      const query: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(rawQuery)) if (!(k in query)) query[k] = v;
      const incoming: Incoming = { method: request.method ?? 'GET', path, rawQuery, query, headers: flattenHeaders(request.headers), body: Buffer.concat(chunks) };
      void route(incoming).then(
        (reply) => send(incoming, reply),
        (err: unknown) => send(incoming, { status: 500, headers: { 'Content-Type': 'text/plain' }, body: `simulator bug: ${String(err)}` }),
      );
    });

    const route = async (incoming: Incoming): Promise<Reply> => {
      if (size > maxBodyBytes) return { status: 413 };
      if (isApiPath(incoming.path)) return handleApi(ctx, incoming);
      return handleAuthority(ctx, incoming) ?? { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' };
    };

    const send = (incoming: Incoming, reply: Reply) => {
      journal.record({
        time: now().toISOString(),
        method: incoming.method,
        path: incoming.path,
        query: incoming.query,
        headers: incoming.headers,
        status: reply.status,
        direction: 'in',
        ...(reply.tenantId === undefined ? {} : { tenantId: reply.tenantId }),
        ...(reply.journalBody === undefined ? {} : { body: reply.journalBody }),
      });
      const body = Buffer.from(reply.body ?? '', 'utf8');
      const headers = { ...reply.headers };
      if (reply.truncate === 'abort') {
        response.writeHead(reply.status, { ...headers, 'Content-Length': String(body.length) });
        response.write(body.subarray(0, Math.floor(body.length / 2)), () => response.destroy());
        return;
      }
      const sent = reply.truncate === 'cut-json' ? body.subarray(0, Math.floor(body.length / 2)) : body;
      response.writeHead(reply.status, { ...headers, 'Content-Length': String(sent.length) });
      response.end(sent);
    };
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await removePki();
    throw err;
  }
  baseUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (options.managedIdentities) {
    identityEndpoint = await startManagedIdentityEndpoint({ identities: options.managedIdentities, issuerFor: identityIssuer, addSecret: (v) => journal.addSecret(v) });
  }

  const publishText = (tenantId: string, contentType: ContentType, body: string, publishOptions: PublishOptions = {}): PublishedContent => {
    if (!tenants.has(tenantId)) throw new Error(`unknown simulator tenant ${tenantId}`);
    ContentTypeSchema.parse(contentType);
    const created = publishOptions.contentCreated ?? now();
    const sequence = ctx.content.nextSequence();
    const contentId = publishOptions.contentId ?? generateContentId(contentType, created, sequence);
    if (!isWellFormedContentId(contentId)) throw new Error(`contentId ${contentId} is not shaped like a real one (parts separated by $)`);
    const stored = ctx.content.add({ tenantId, contentType, contentId, contentUri: contentUriFor(baseUrl, tenantId, contentId), created, sequence, body });
    const view = publishedView(stored);
    const s = subscriptions.get(tenantId, contentType);
    if (deliversNotifications(s, now())) ctx.notifier.enqueue({ tenantId, clientId: s.clientId, ...view });
    return view;
  };

  const injectText = (tenantId: string, contentType: ContentType, jsonText: string, created: Date | undefined): void => {
    if (!tenants.has(tenantId)) throw new Error(`unknown simulator tenant ${tenantId}`);
    ContentTypeSchema.parse(contentType);
    ctx.content.inject({ tenantId, contentType, jsonText, created: created ?? now(), sequence: ctx.content.nextSequence() });
  };

  let closed = false;
  return {
    baseUrl,
    authorityHost: baseUrl,
    caCertPem: pki.caCertPem,
    caCertPath: pki.caCertPath,
    identity: identityEndpoint && { endpoint: identityEndpoint.endpoint, header: identityEndpoint.header, requests: identityEndpoint.requests },
    identityIssuer,
    faults,
    get journal() {
      return journal.entries;
    },
    apiRoot: (tenantId) => `${baseUrl}/api/v1.0/${tenantId}/activity/feed`,
    publish: async (tenantId, contentType, records, publishOptions) => publishText(tenantId, contentType, JSON.stringify(records), publishOptions),
    injectListingItem(tenantId, contentType, raw, injectOptions = {}) {
      injectText(tenantId, contentType, JSON.stringify(raw) ?? 'null', injectOptions.contentCreated);
    },
    injectListingText(tenantId, contentType, jsonText, injectOptions = {}) {
      JSON.parse(jsonText); // a page must stay JSON: an item that is not would fail the page, not test one item
      injectText(tenantId, contentType, jsonText, injectOptions.contentCreated);
    },
    publishFile: async (tenantId, contentType, fixturePath, publishOptions) => {
      const text = await readFile(fixturePath, 'utf8');
      if (!Array.isArray(JSON.parse(text))) throw new Error(`${fixturePath} is not a JSON array of records`);
      return publishText(tenantId, contentType, text, publishOptions);
    },
    publishRaw: async (tenantId, contentType, body, publishOptions) => publishText(tenantId, contentType, body, publishOptions),
    subscriptions: (tenantId) => subscriptions.list(tenantId).map((s) => subscriptionView(s, now())),
    disableSubscription(tenantId, contentType, by = 'tenantAdmin') {
      const s = subscriptions.get(tenantId, contentType);
      if (!s) throw new Error(`tenant ${tenantId} has no ${contentType} subscription to disable`);
      subscriptions.set(tenantId, { ...s, enabled: false, disabledBy: by });
    },
    flushNotifications: () => ctx.notifier.flush(),
    tokenRequests: (tenantId) =>
      tenantId === undefined ? [...ctx.tokenRequestCounts.values()].reduce((a, b) => a + b, 0) : (ctx.tokenRequestCounts.get(tenantId) ?? 0),
    expireTokens: (tenantId) => ctx.tokens.expireAll(tenantId),
    expireContent(tenantId, contentId) {
      const stored = ctx.content.get(tenantId, contentId);
      if (!stored) throw new Error(`tenant ${tenantId} has no content ${contentId} to expire`);
      stored.expiration = new Date(now().getTime() - 1);
    },
    knownSecrets: () => journal.secretValues,
    async close() {
      if (closed) return;
      closed = true;
      ctx.notifier.close();
      await identityEndpoint?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removePki();
    },
  };
}
