// The API client against the local simulator (dev/simulator): real HTTPS on loopback, real @azure/identity
// credentials through the simulator's token endpoint, paging, every AF error path it can produce, throttling,
// the limiter, token caching, expired content, and the URL guard proven with servers that must stay unrequested.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { simulatorClientSettings, startSimulator, createClientCertificate, type Simulator } from '../dev/simulator';
import { createServerPki } from '../dev/simulator/certificates';
import { createManagementClient, type ManagementClient } from '../shared/api/client';
import { resolveEndpoints } from '../shared/api/clouds';
import type { Clock } from '../shared/api/clock';
import { createTokenSource, type CredentialSettings, type TokenSource } from '../shared/api/credentials';
import { ApiConfigurationError, ContentExpiredError, ManagementApiError } from '../shared/api/errors';
import { createHttpTransport, type HttpTransport } from '../shared/api/http';
import { createRequestLimiter, type RequestLimiter } from '../shared/api/limiter';
import { ensureSubscription } from '../shared/api/subscriptions';
import { createClientFromSettings } from '../shared/api/from-settings';
import { parseSettings } from '../shared/config';
import { createLogger } from '../shared/log';
import { fixturePath } from './support/fixtures';

const HOUR = 3_600_000;
const tenantA = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa';
const tenantB = 'bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb';
const tenantC = 'cccccccc-3333-4333-8333-cccccccccccc'; // app without ActivityFeed.Read
const tenantD = 'dddddddd-4444-4444-8444-dddddddddddd'; // app with a certificate
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const clientSecret = 'sim-secret-Value~0123456789';
const publisherId = tenantA;

let sim: Simulator;
let other: Simulator; // a second server: its journal must stay empty
let simNow = Date.now();
let certDir: string;
let certPath: string;
let webhook: https.Server;
let webhookPki: Awaited<ReturnType<typeof createServerPki>>;
const webhookCalls: Array<{ authId: string | undefined; body: string }> = [];

const code = (expected: string) => (err: unknown) => {
  assert.ok(err instanceof ManagementApiError, `not a typed error: ${String(err)}`);
  assert.equal(err.code, expected, err.message);
  return true;
};

interface TestClient {
  client: ManagementClient;
  http: HttpTransport;
  sleeps: number[];
  close(): void;
}

/** A client for the simulator; its clock is the simulator's clock and sleeping moves both forward at once. */
function makeClient(options: {
  credential?: CredentialSettings;
  tokens?: TokenSource;
  requestsPerMinute?: number;
  limiterBurst?: number;
  apiOrigin?: string;
  ca?: string;
  logLines?: string[];
  responseTimeoutMs?: number;
  limiter?: RequestLimiter;
} = {}): TestClient {
  const sleeps: number[] = [];
  const clock: Clock = {
    now: () => simNow,
    sleep: async (ms) => {
      sleeps.push(ms);
      simNow += ms;
    },
  };
  const endpoints = resolveEndpoints('Enterprise', { apiBaseUrl: options.apiOrigin ?? sim.baseUrl, authorityHost: sim.authorityHost });
  const http = createHttpTransport({ ca: options.ca ?? sim.caCertPem });
  const tokens =
    options.tokens ??
    createTokenSource(options.credential ?? { kind: 'clientSecret', clientId, clientSecret }, endpoints, { agent: http.agent, clock });
  const client = createManagementClient({
    endpoints,
    tokens,
    publisherId,
    http,
    clock,
    random: () => 0.5,
    ...(options.responseTimeoutMs ? { responseTimeoutMs: options.responseTimeoutMs } : {}),
    retryPolicy: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 10_000 },
    limiter: options.limiter ?? createRequestLimiter({ perMinute: options.requestsPerMinute ?? 2000, burst: options.limiterBurst ?? 1000, clock }),
    ...(options.logLines ? { logger: createLogger({ write: (l) => options.logLines!.push(l), level: 'debug' }) } : {}),
  });
  return { client, http, sleeps, close: () => http.close() };
}

function apiRequests(s: Simulator, from = 0, pathPart = '/api/') {
  return s.journal.slice(from).filter((e) => e.direction === 'in' && e.path.includes(pathPart));
}

async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

before(async () => {
  // A webhook receiver that answers 200 (validation and notifications) and notes the authId it was sent.
  webhookPki = await createServerPki();
  webhook = https.createServer({ cert: webhookPki.serverCertPem, key: webhookPki.serverKeyPem }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const header = req.headers['webhook-authid'];
      webhookCalls.push({ authId: Array.isArray(header) ? header[0] : header, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const cert = await createClientCertificate();
  certDir = mkdtempSync(path.join(tmpdir(), 'o365-client-cert-'));
  certPath = path.join(certDir, 'client.pem');
  writeFileSync(certPath, cert.combinedPem);
  [sim, other] = await Promise.all([
    startSimulator({
      tenants: [
        { tenantId: tenantA, apps: [{ clientId, clientSecret }] },
        { tenantId: tenantB, apps: [{ clientId, clientSecret }] },
        { tenantId: tenantC, apps: [{ clientId, clientSecret }], permissions: [] },
        { tenantId: tenantD, apps: [{ clientId, certificatePem: cert.certificatePem }] },
      ],
      pageSize: 3,
      now: () => new Date(simNow),
      webhookCaPem: webhookPki.caCertPem,
    }),
    startSimulator({ tenants: [{ tenantId: tenantA, apps: [{ clientId, clientSecret }] }] }),
  ]);
});

after(async () => {
  await Promise.all([sim?.close(), other?.close()]);
  webhook?.closeAllConnections();
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
  await webhookPki?.remove();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe('subscriptions', () => {
  it('signs in with a real ClientSecretCredential and starts, lists and stops subscriptions', async () => {
    const first = makeClient();
    const feed = first.client.tenant(tenantA);
    try {
      const started = await feed.startSubscription('Audit.Exchange');
      assert.equal(started.outcome, 'started');
      assert.equal(started.subscription?.status, 'enabled');
      assert.equal((await feed.startSubscription('Audit.General')).outcome, 'started');

      // The in-process guard: a second start within 15 minutes is not even sent.
      const before = sim.journal.length;
      await assert.rejects(feed.startSubscription('Audit.Exchange'), (e: unknown) => code('START_THROTTLED')(e) && (e as ManagementApiError).retryable);
      assert.equal(sim.journal.length, before);
    } finally {
      first.close();
    }

    // Another process (fresh guard): start on an enabled subscription answers AF20024, which is success.
    const second = makeClient();
    try {
      const feed2 = second.client.tenant(tenantA);
      assert.deepEqual(await feed2.startSubscription('Audit.Exchange'), { outcome: 'already-enabled', subscription: null });
      const list = await feed2.listSubscriptions();
      assert.deepEqual(list.map((s) => `${s.contentType}:${s.status}`).sort(), ['Audit.Exchange:enabled', 'Audit.General:enabled']);
      await feed2.stopSubscription('Audit.General');
      const window = { start: new Date(simNow - HOUR), end: new Date(simNow) };
      await assert.rejects(feed2.listContent('Audit.General', window).next(), code('AF20023'));
    } finally {
      second.close();
    }
  });

  it('works from settings alone: loopback overrides and the simulator CA file', async () => {
    const { api } = parseSettings({
      ...simulatorClientSettings(sim, { tenantId: tenantA, clientId, clientSecret }),
    });
    const client = createClientFromSettings(api);
    try {
      const mark = sim.journal.length;
      assert.ok(Array.isArray(await client.tenant(tenantA).listSubscriptions()));
      const [request] = apiRequests(sim, mark);
      assert.equal(request?.query['PublisherIdentifier'], tenantA, 'publisher id defaults to the home tenant');
      assert.equal(request?.status, 200);
    } finally {
      client.close();
    }
  });

  it('ensureSubscription: none → one start, enabled → nothing, disabled → reported, restarted only when opted in', async () => {
    const { client, close } = makeClient();
    const feed = client.tenant(tenantB);
    const starts = () => apiRequests(sim, 0, `/${tenantB}/activity/feed/subscriptions/start`).length;
    try {
      assert.equal((await ensureSubscription(feed, 'Audit.SharePoint', { restartDisabled: false })).state, 'started');
      assert.equal(starts(), 1);
      assert.equal((await ensureSubscription(feed, 'Audit.SharePoint', { restartDisabled: false })).state, 'enabled');
      assert.equal(starts(), 1);
      sim.disableSubscription(tenantB, 'Audit.SharePoint');
      const lines: string[] = [];
      const logger = createLogger({ write: (l) => lines.push(l) });
      assert.equal((await ensureSubscription(feed, 'Audit.SharePoint', { restartDisabled: false, logger })).state, 'disabled');
      assert.equal(starts(), 1);
      assert.match(lines.join('\n'), /disabled by an admin/);
      simNow += 16 * 60_000; // past the API's (and our guard's) 15-minute start spacing
      assert.equal((await ensureSubscription(feed, 'Audit.SharePoint', { restartDisabled: true })).state, 'restarted');
      assert.equal(starts(), 2);
      assert.equal(sim.subscriptions(tenantB).find((s) => s.contentType === 'Audit.SharePoint')?.status, 'enabled');
    } finally {
      close();
    }
  });
});

describe('webhook subscriptions', () => {
  it('starts with a webhook; the authId is a Secret in every answer and never printed or logged', async () => {
    const authId = 'webhook-auth-id-Very-Secret-42';
    const address = `https://127.0.0.1:${(webhook.address() as AddressInfo).port}/api/o365/notify`;
    const lines: string[] = [];
    const { client, close } = makeClient({ logLines: lines });
    const feed = client.tenant(tenantB);
    try {
      const started = await feed.startSubscription('Audit.General', { address, authId });
      assert.equal(started.outcome, 'started');
      assert.equal(webhookCalls.at(-1)?.authId, authId, 'the validation POST carried the authId');
      assert.ok(/validationCode/.test(webhookCalls.at(-1)?.body ?? ''));
      const listed = (await feed.listSubscriptions()).find((s) => s.contentType === 'Audit.General');
      assert.equal(listed?.webhook?.authId?.reveal(), authId);
      const logger = createLogger({ write: (l) => lines.push(l) });
      logger.info('started', { started, listed });
      for (const text of [JSON.stringify(started), JSON.stringify(listed), inspect(started, { depth: 10 }), inspect(listed, { depth: 10 }), lines.join('\n')]) {
        assert.ok(!text.includes(authId), text);
      }
      // Same webhook again: nothing to do, no start sent.
      const mark = sim.journal.length;
      assert.equal((await ensureSubscription(feed, 'Audit.General', { restartDisabled: false, webhook: { address, authId } })).state, 'enabled');
      assert.equal(apiRequests(sim, mark, '/subscriptions/start').length, 0);
      // Published content is notified to the webhook with the authId.
      const before = webhookCalls.length;
      const blob = await sim.publish(tenantB, 'Audit.General', [{ Id: 'n' }]);
      await sim.flushNotifications();
      const notification = webhookCalls.slice(before).find((c) => c.body.includes(blob.contentId));
      assert.equal(notification?.authId, authId);
      // A notification's contentUri passes the guard and fetches the blob.
      const item = (JSON.parse(notification!.body) as Array<{ contentUri: string; tenantId: string }>).find((n) => n.contentUri === blob.contentUri)!;
      assert.equal((await bytesOf(await client.tenant(item.tenantId).fetchContentUri(item.contentUri))).toString(), '[{"Id":"n"}]');
      // The diagnostics listing shows that delivery.
      const delivered = [];
      for await (const n of feed.listNotifications('Audit.General', { start: new Date(simNow - HOUR), end: new Date(simNow + 60_000) })) {
        assert.equal(n.kind, 'item', JSON.stringify(n));
        if (n.kind === 'item') delivered.push(n.item);
      }
      assert.ok(delivered.some((n) => n.contentId === blob.contentId && typeof n.notificationSent === 'string'), JSON.stringify(delivered));
    } finally {
      close();
    }
  });
});

describe('content', () => {
  it('lists every page of every window, with PublisherIdentifier on every request', async () => {
    const published: string[] = [];
    const base = simNow;
    for (let i = 0; i < 7; i++) published.push((await sim.publish(tenantA, 'Audit.Exchange', [{ Id: `w1-${i}` }], { contentCreated: new Date(base - 30 * HOUR + i * 60_000) })).contentId);
    for (let i = 0; i < 4; i++) published.push((await sim.publish(tenantA, 'Audit.Exchange', [{ Id: `w2-${i}` }], { contentCreated: new Date(base - 2 * HOUR + i * 60_000) })).contentId);
    const mark = sim.journal.length;
    const { client, close } = makeClient();
    try {
      const seen: string[] = [];
      for await (const listed of client.tenant(tenantA).listContentRange('Audit.Exchange', { since: new Date(base - 47 * HOUR), until: new Date(base) })) {
        assert.equal(listed.kind, 'item', JSON.stringify(listed));
        if (listed.kind === 'item') seen.push(listed.item.contentId);
      }
      assert.deepEqual(seen, published);
      const listings = apiRequests(sim, mark, '/subscriptions/content');
      assert.equal(listings.length, 3 + 2, 'ceil(7/3) pages in the first window, ceil(4/3) in the second');
      assert.equal(listings.filter((e) => e.query['nextPage'] !== undefined).length, 3);
      for (const e of apiRequests(sim, mark)) {
        assert.equal(e.query['PublisherIdentifier'], publisherId, e.path);
        assert.equal(e.status, 200);
      }
    } finally {
      close();
    }
  });

  it('streams content bytes exactly; many downloads cost one token request per tenant', async () => {
    await makeClient().client.tenant(tenantB).startSubscription('Audit.Exchange').catch(() => undefined);
    const file = fixturePath('content', 'Audit.Exchange.json');
    const a = await sim.publishFile(tenantA, 'Audit.Exchange', file);
    const b = await sim.publishFile(tenantB, 'Audit.Exchange', file);
    const expected = readFileSync(file);
    const tokensBefore = { a: sim.tokenRequests(tenantA), b: sim.tokenRequests(tenantB) };
    const mark = sim.journal.length;
    const { client, close } = makeClient();
    try {
      const downloads = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? client.fetchContent(tenantA, a.contentId) : client.fetchContent(tenantB, b.contentId)));
      const bodies = await Promise.all(downloads.map(async (d) => bytesOf(await d)));
      for (const body of bodies) assert.ok(body.equals(expected));
      assert.equal(sim.tokenRequests(tenantA) - tokensBefore.a, 1);
      assert.equal(sim.tokenRequests(tenantB) - tokensBefore.b, 1);
      const gets = apiRequests(sim, mark, '/activity/feed/audit/');
      assert.equal(gets.length, 8);
      for (const e of gets) assert.equal(e.query['PublisherIdentifier'], publisherId);
      // The contentUri of a notification is checked, then fetched by its id.
      assert.ok((await bytesOf(await client.tenant(tenantA).fetchContentUri(a.contentUri))).equals(expected));
    } finally {
      close();
    }
  });

  it('signs in with a client certificate', async () => {
    const { client, close } = makeClient({ credential: { kind: 'clientCertificate', clientId, certificatePath: certPath } });
    try {
      assert.deepEqual(await client.tenant(tenantD).listSubscriptions(), []);
      assert.equal(sim.tokenRequests(tenantD), 1);
    } finally {
      close();
    }
  });

  it('raises ContentExpired for content past its expiration, before asking or when the API says AF20051', async () => {
    const old = await sim.publish(tenantA, 'Audit.Exchange', [{ Id: 'old' }], { contentCreated: new Date(simNow - 8 * 24 * HOUR) });
    const fresh = await sim.publish(tenantA, 'Audit.Exchange', [{ Id: 'fresh' }]);
    const { client, close } = makeClient();
    const feed = client.tenant(tenantA);
    try {
      let mark = sim.journal.length;
      await assert.rejects(feed.fetchContent(old.contentId), (e: unknown) => e instanceof ContentExpiredError && e.detectedBy === 'api' && !e.retryable);
      assert.equal(apiRequests(sim, mark).length, 1, 'not retried');
      mark = sim.journal.length;
      await assert.rejects(feed.fetchContent(old.contentId, { contentExpiration: old.contentExpiration }), (e: unknown) => e instanceof ContentExpiredError && e.detectedBy === 'contentExpiration');
      assert.equal(apiRequests(sim, mark).length, 0, 'not even asked');
      sim.faults.expiredContent.remaining = 1;
      await assert.rejects(feed.fetchContent(fresh.contentId), (e: unknown) => e instanceof ContentExpiredError);
    } finally {
      sim.faults.expiredContent.remaining = 0;
      close();
    }
  });

  it('reports a download cut off mid-body as retryable CONTENT_INTERRUPTED', async () => {
    const blob = await sim.publishFile(tenantA, 'Audit.Exchange', fixturePath('content', 'Audit.Exchange.json'));
    const { client, close } = makeClient();
    try {
      sim.faults.truncateContent = { remaining: 1, mode: 'abort' };
      const body = await client.fetchContent(tenantA, blob.contentId);
      await assert.rejects(bytesOf(body), (e: unknown) => code('CONTENT_INTERRUPTED')(e) && (e as ManagementApiError).retryable);
    } finally {
      sim.faults.truncateContent = { remaining: 0 };
      close();
    }
  });
});

describe('AF error paths', () => {
  it('AF10001 (no ActivityFeed.Read) is a configuration error naming the permission, not retried', async () => {
    const { client, close } = makeClient();
    const mark = sim.journal.length;
    try {
      await assert.rejects(client.tenant(tenantC).listSubscriptions(), (e: unknown) => e instanceof ApiConfigurationError && e.code === 'AF10001' && e.problem === 'permission' && /ActivityFeed\.Read/.test(e.message));
      assert.equal(apiRequests(sim, mark).length, 1);
    } finally {
      close();
    }
  });

  it('a wrong secret is SIGN_IN_FAILED and the secret is in no message', async () => {
    const wrong = 'Wrong~Secret-Value-987654321';
    const lines: string[] = [];
    const { client, close } = makeClient({ credential: { kind: 'clientSecret', clientId, clientSecret: wrong }, logLines: lines });
    try {
      await assert.rejects(client.tenant(tenantA).listSubscriptions(), (e: unknown) => {
        assert.ok(e instanceof ApiConfigurationError && e.code === 'SIGN_IN_FAILED', String(e));
        assert.ok(!e.message.includes(wrong) && !inspect(e).includes(wrong));
        return true;
      });
      assert.ok(!lines.join('').includes(wrong));
    } finally {
      close();
    }
  });

  it('AF20010: a token for another tenant', async () => {
    const endpoints = resolveEndpoints('Enterprise', { apiBaseUrl: sim.baseUrl, authorityHost: sim.authorityHost });
    const http = createHttpTransport({ ca: sim.caCertPem });
    const clock: Clock = { now: () => simNow, sleep: async () => undefined };
    const aTokens = createTokenSource({ kind: 'clientSecret', clientId, clientSecret }, endpoints, { agent: http.agent, clock });
    const { client, close } = makeClient({ tokens: { token: () => aTokens.token(tenantA) } });
    try {
      await assert.rejects(client.tenant(tenantB).listSubscriptions(), (e: unknown) => e instanceof ApiConfigurationError && e.code === 'AF20010' && e.problem === 'wrong-tenant');
    } finally {
      close();
      http.close();
    }
  });

  it('401 for a token the API no longer accepts is a configuration error, not a retry loop', async () => {
    const { client, close } = makeClient();
    try {
      await client.tenant(tenantA).listSubscriptions();
      sim.expireTokens(tenantA);
      const mark = sim.journal.length;
      await assert.rejects(client.tenant(tenantA).listSubscriptions(), (e: unknown) => e instanceof ApiConfigurationError && e.code === 'UNAUTHORIZED' && e.problem === 'consent');
      assert.equal(apiRequests(sim, mark).length, 1);
    } finally {
      close();
    }
  });

  it('AF20022, AF20050, AF20052, AF20030/AF20055: typed, not retried', async () => {
    const { client, close } = makeClient();
    const feed = client.tenant(tenantB);
    try {
      const mark = sim.journal.length;
      await assert.rejects(feed.listContent('DLP.All', { start: new Date(simNow - HOUR), end: new Date(simNow) }).next(), code('AF20022'));
      await assert.rejects(feed.fetchContent('20240101$unknown$audit_exchange'), code('AF20050'));
      await assert.rejects(feed.fetchContent('malformed'), code('AF20052'));
      await assert.rejects(feed.listContent('Audit.Exchange', { start: new Date(simNow - 30 * HOUR), end: new Date(simNow) }).next(), (e: unknown) => e instanceof ManagementApiError && /^AF200(30|55)$/.test(e.code) && !e.retryable);
      await assert.rejects(feed.listContent('Audit.Exchange', { start: new Date(simNow - 8 * 24 * HOUR), end: new Date(simNow - 8 * 24 * HOUR + HOUR) }).next(), (e: unknown) => e instanceof ManagementApiError && /^AF200(30|55)$/.test(e.code));
      assert.equal(apiRequests(sim, mark).length, 5, 'one request each');
      // A contentId that could escape its path segment is refused before any request.
      await assert.rejects(feed.fetchContent('..%2F..%2Fsubscriptions'), code('URL_REFUSED'));
      assert.equal(apiRequests(sim, mark).length, 5);
    } finally {
      close();
    }
  });
});

describe('throttling and budget', () => {
  it('retries AF429 on 403 and 429 with backoff, honours Retry-After, and gives up after the attempts', async () => {
    const { client, sleeps, close } = makeClient();
    const feed = client.tenant(tenantA);
    try {
      await feed.listSubscriptions(); // token in hand
      let mark = sim.journal.length;
      sim.faults.throttle = { remaining: 2, status: 403 };
      await feed.listSubscriptions();
      assert.equal(apiRequests(sim, mark).length, 3);
      assert.deepEqual(sleeps, [75, 150], 'exponential backoff with jitter (random fixed at 0.5)');

      sleeps.length = 0;
      sim.faults.throttle = { remaining: 1, status: 429, retryAfterSeconds: 3 };
      await feed.listSubscriptions();
      assert.deepEqual(sleeps, [3000], 'Retry-After honoured');

      sleeps.length = 0;
      mark = sim.journal.length;
      sim.faults.throttle = { remaining: 100, status: 403 };
      await assert.rejects(feed.listSubscriptions(), (e: unknown) => code('AF429')(e) && (e as ManagementApiError).retryable);
      assert.equal(apiRequests(sim, mark).length, 4, 'bounded attempts');

      sim.faults.throttle = { remaining: 0, status: 403 };
      sim.faults.serverErrors = { remaining: 2, status: 503 };
      sleeps.length = 0;
      await feed.listSubscriptions();
      assert.equal(sleeps.length, 2, '5xx retried');
    } finally {
      sim.faults.throttle = { remaining: 0, status: 403 };
      sim.faults.serverErrors = { remaining: 0, status: 500 };
      close();
    }
  });

  it('retries a request that times out, then reports a retryable NETWORK error', async () => {
    const { client, sleeps, close } = makeClient({ responseTimeoutMs: 50 });
    try {
      await client.tenant(tenantA).listSubscriptions();
      sim.faults.delayMs = 200;
      const mark = sim.journal.length;
      await assert.rejects(client.tenant(tenantA).listSubscriptions(), (e: unknown) => code('NETWORK')(e) && (e as ManagementApiError).retryable);
      assert.equal(sleeps.length, 3, 'four attempts');
      sim.faults.delayMs = 0;
      await new Promise((resolve) => setTimeout(resolve, 250)); // let the delayed answers land in the journal
      assert.equal(apiRequests(sim, mark).length, 4);
    } finally {
      sim.faults.delayMs = 0;
      close();
    }
  });

  it('gives a retryable error back instead of waiting past the caller deadline', async () => {
    const { client, sleeps, close } = makeClient();
    try {
      sim.faults.throttle = { remaining: 1, status: 429, retryAfterSeconds: 5 };
      await assert.rejects(client.tenant(tenantA).listSubscriptions({ deadline: simNow + 2000 }), (e: unknown) => code('AF429')(e) && (e as ManagementApiError).retryAfterMs === 5000);
      assert.deepEqual(sleeps, []);
    } finally {
      sim.faults.throttle = { remaining: 0, status: 403 };
      close();
    }
  });

  it('reuses keep-alive connections without piling up listeners', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const { client, close } = makeClient();
    try {
      for (let i = 0; i < 30; i++) await client.tenant(tenantA).listSubscriptions();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
      close();
    }
  });

  it('the per-tenant limiter spaces requests to the budget', async () => {
    const { client, sleeps, close } = makeClient({ requestsPerMinute: 60, limiterBurst: 2 });
    try {
      const mark = sim.journal.length;
      for (let i = 0; i < 5; i++) await client.tenant(tenantA).listSubscriptions();
      assert.equal(apiRequests(sim, mark).length, 5);
      assert.deepEqual(sleeps, [1000, 1000, 1000], 'two at once, then one per second');
      await client.tenant(tenantB).listSubscriptions();
      assert.equal(sleeps.length, 3, 'another tenant has its own budget');
    } finally {
      close();
    }
  });
});

describe('throttles reach the limiter (the shared budget pauses the tenant for everyone)', () => {
  it('tells the limiter of each AF429 / 429 answer with its Retry-After, once per answer; a failing limiter never fails the call', async () => {
    const throttled: Array<[string, number | undefined]> = [];
    let refuse = false;
    const limiter: RequestLimiter = {
      acquire: async () => undefined,
      throttled: async (key, retryAfterMs) => {
        throttled.push([key, retryAfterMs]);
        if (refuse) throw new Error('budget store down');
      },
    };
    const logLines: string[] = [];
    const { client, close } = makeClient({ limiter, logLines });
    try {
      await client.tenant(tenantA).listSubscriptions();
      sim.faults.throttle = { remaining: 2, status: 429, retryAfterSeconds: 2 };
      await client.tenant(tenantA).listSubscriptions();
      assert.deepEqual(throttled, [[tenantA, 2000], [tenantA, 2000]]);
      sim.faults.throttle = { remaining: 1, status: 403 };
      refuse = true;
      await client.tenant(tenantA).listSubscriptions();
      assert.deepEqual(throttled[2], [tenantA, undefined], 'AF429 on 403 counts too');
      assert.ok(logLines.some((l) => l.includes('could not record the throttle')), 'the limiter failure is logged');
      sim.faults.serverErrors = { remaining: 1, status: 503 };
      await client.tenant(tenantA).listSubscriptions();
      assert.equal(throttled.length, 3, 'a 5xx is not a throttle');
    } finally {
      sim.faults.throttle = { remaining: 0, status: 403 };
      sim.faults.serverErrors = { remaining: 0, status: 500 };
      close();
    }
  });
});

describe('URL guard: the token never reaches another host', () => {
  it('refuses forged contentUris; the second server is never requested', async () => {
    const blob = await sim.publish(tenantA, 'Audit.Exchange', [{ Id: 'x' }]);
    // Trust both servers' CAs, so the guard is the only thing standing between the token and the other server.
    const { client, close } = makeClient({ ca: sim.caCertPem + '\n' + other.caCertPem });
    const otherPort = new URL(other.baseUrl).port;
    const simHost = new URL(sim.baseUrl).host;
    const forged = [
      `${other.baseUrl}/api/v1.0/${tenantA}/activity/feed/audit/${blob.contentId}`,
      `https://${simHost}@127.0.0.1:${otherPort}/api/v1.0/${tenantA}/activity/feed/audit/${blob.contentId}`,
      `https://127.0.0.1:${otherPort}\\@${simHost}/api/v1.0/${tenantA}/activity/feed/audit/${blob.contentId}`,
      `https://localhost:${otherPort}/api/v1.0/${tenantA}/activity/feed/audit/${blob.contentId}`,
      `http://${simHost}/api/v1.0/${tenantA}/activity/feed/audit/${blob.contentId}`,
      `${sim.baseUrl}/api/v1.0/${tenantB}/activity/feed/audit/${blob.contentId}`,
      `${sim.baseUrl}/api/v1.0/${tenantA}/activity/feed/audit/..%2F..%2F..%2F@127.0.0.1:${otherPort}`,
    ];
    try {
      const mark = sim.journal.length;
      for (const uri of forged) await assert.rejects(client.tenant(tenantA).fetchContentUri(uri), code('URL_REFUSED'), uri);
      assert.equal(other.journal.length, 0);
      assert.equal(apiRequests(sim, mark).length, 0);
    } finally {
      close();
    }
  });

  it('property: mutated contentUris either fail the guard or go to the configured server, never to the other', async () => {
    const blob = await sim.publish(tenantA, 'Audit.Exchange', [{ Id: 'p' }]);
    const { client, close } = makeClient({ ca: sim.caCertPem + '\n' + other.caCertPem });
    const otherHost = new URL(other.baseUrl).host;
    const good = blob.contentUri;
    const pieces = ['@', `@${otherHost}`, otherHost, `${otherHost}/`, ':443', `:${new URL(other.baseUrl).port}`, '%2F', '\\', '/', '..', '#', '?', '.', 'A', 'localhost'];
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: good.length }), fc.nat({ max: 10 }), fc.constantFrom(...pieces), async (at, cut, piece) => {
          const uri = good.slice(0, at) + piece + good.slice(Math.min(good.length, at + cut));
          await client.tenant(tenantA).fetchContentUri(uri).then((body) => body.cancel(), () => undefined);
          assert.equal(other.journal.length, 0, uri);
        }),
        { numRuns: 150 },
      );
    } finally {
      close();
    }
  });

  it('refuses a forged NextPageUri and never follows a redirect; peeks error bodies on 200', async () => {
    // A stand-in API (the one this client is configured for) that answers with forgeries.
    const pki = await createServerPki();
    const seen: string[] = [];
    const otherListing = `${other.baseUrl}/api/v1.0/${tenantA}/activity/feed/subscriptions/content?contentType=Audit.Exchange&nextPage=x`;
    const server = https.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (req, res) => {
      seen.push(req.url ?? '');
      const url = req.url ?? '';
      if (url.includes('/subscriptions/content')) {
        res.writeHead(200, { 'Content-Type': 'application/json', nextpageuri: otherListing });
        res.end('[]');
      } else if (url.includes('/subscriptions/list')) {
        res.writeHead(302, { Location: `${other.baseUrl}/api/v1.0/${tenantA}/activity/feed/subscriptions/list` });
        res.end();
      } else if (url.includes('/audit/expired$1')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('\ufeff \n {"error":{"code":"AF20051","message":"Content requested with the key expired$1 has already expired."}}');
      } else if (url.includes('/audit/html$1')) {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end('<html>proxy login</html>');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('  [{"Id":"1"}]');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { client, close } = makeClient({
      apiOrigin: origin,
      ca: [pki.caCertPem, other.caCertPem].join('\n'),
      tokens: { token: async () => 'stand-in-token-value' },
    });
    try {
      const feed = client.tenant(tenantA);
      await assert.rejects(feed.listContent('Audit.Exchange', { start: new Date(simNow - HOUR), end: new Date(simNow) }).next(), code('URL_REFUSED'));
      await assert.rejects(feed.listSubscriptions(), code('REDIRECT_REFUSED'));
      await assert.rejects(feed.fetchContent('expired$1'), (e: unknown) => e instanceof ContentExpiredError && e.detectedBy === 'api');
      await assert.rejects(feed.fetchContent('html$1'), code('UNEXPECTED_RESPONSE'));
      assert.equal((await bytesOf(await feed.fetchContent('ok$1'))).toString(), '  [{"Id":"1"}]');
      assert.equal(other.journal.length, 0, 'the other server never saw a request');
      assert.equal(seen.length, 5);
      assert.ok(seen.every((u) => u.includes(`PublisherIdentifier=${publisherId}`)));
    } finally {
      close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pki.remove();
    }
  });
});
