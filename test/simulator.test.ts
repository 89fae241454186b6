// The local Management Activity API simulator (dev/simulator) against the reference: real @azure/identity
// credentials, real HTTPS over loopback with the simulator's own CA, real http webhook listeners.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import { verifyClientAssertion } from '../dev/simulator/client-assertion';
import { generateContentId, isWellFormedContentId } from '../dev/simulator/content-id';
import { apiError, type ErrorCode } from '../dev/simulator/errors';
import {
  createClientCertificate,
  simulatorCredentialOptions,
  startSimulator,
  type ClientCertificate,
  type ContentType,
  type Simulator,
  type SimulatorOptions,
} from '../dev/simulator/index';
import { decodePageToken, encodePageToken, pageFrom } from '../dev/simulator/page-token';
import { resolveWindow } from '../dev/simulator/time-window';
import { fixturePath, readFixture } from './support/fixtures';

const T1 = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const C1 = '676e8273-3c93-4205-910f-614bb4396a55';
const T2 = '9b1f3c55-2d4e-4a8b-9c7d-0e1f2a3b4c5d';
const C2 = 'c0ffee00-1234-4abc-8def-0123456789ab';
const T3 = '5a5a5a5a-0000-4000-8000-000000000003'; // consented without ActivityFeed.Read
const S1 = 'sim-test-secret-one-Vx81kQ';
const S2 = 'sim-test-secret-two-Lm27pR';
const S3 = 'sim-test-secret-three-Zt93wE';
const PUB = T1;
const hour = 3_600_000;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

/** One HTTPS request to the simulator, trusting exactly its CA. */
function call(sim: Simulator, method: string, url: string, options: { token?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['Content-Type'] ??= 'application/json';
    const req = https.request(url, { method, ca: sim.caCertPem, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as unknown });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorCode(answer: Answer): string | undefined {
  return (answer.json() as { error?: { code?: string } }).error?.code;
}

interface Received {
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

/** A plain-http webhook on loopback that answers with the given statuses in turn (then the last one). */
async function webhookListener(statuses: number[] = [200]) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.statusCode = statuses[Math.min(received.length - 1, statuses.length - 1)] ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/o365/notify`;
  const notifications = () => received.filter((r) => Array.isArray(r.body));
  return { address, received, notifications, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function clock(start: string) {
  let current = new Date(start).getTime();
  return { now: () => new Date(current), advance: (ms: number) => void (current += ms), set: (iso: string) => void (current = new Date(iso).getTime()) };
}

let clientCert: ClientCertificate;
let strangerCert: ClientCertificate;

before(async () => {
  [clientCert, strangerCert] = await Promise.all([createClientCertificate(), createClientCertificate('not registered')]);
});

async function simulator(extra: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  return startSimulator({
    tenants: [
      { tenantId: T1, apps: [{ clientId: C1, clientSecret: S1, certificatePem: clientCert.certificatePem }] },
      { tenantId: T2, apps: [{ clientId: C2, clientSecret: S2 }] },
      { tenantId: T3, apps: [{ clientId: C1, clientSecret: S3 }], permissions: ['ActivityFeed.ReadDlp'] },
    ],
    notifyGatherMs: 5,
    notifyRetryDelaysMs: [10, 20],
    ...extra,
  });
}

async function tokenFor(sim: Simulator, tenantId: string, clientId: string, secret: string, scope = 'https://manage.office.com/.default'): Promise<string> {
  const credential = new ClientSecretCredential(tenantId, clientId, secret, simulatorCredentialOptions(sim));
  return (await credential.getToken(scope)).token;
}

const blobUrl = (item: { contentUri: string }) => `${item.contentUri}?PublisherIdentifier=${PUB}`;

const feed = (sim: Simulator, tenantId: string, rest: string, query = '') =>
  `${sim.apiRoot(tenantId)}/${rest}?PublisherIdentifier=${PUB}${query ? `&${query}` : ''}`;

async function start(sim: Simulator, token: string, contentType: ContentType, webhook?: { address: string; authId?: string; expiration?: string }) {
  return call(sim, 'POST', feed(sim, T1, 'subscriptions/start', `contentType=${contentType}`), {
    token,
    ...(webhook ? { body: JSON.stringify({ webhook }) } : {}),
  });
}

describe('simulator: pure pieces', () => {
  it('error bodies equal errors.json exactly, and the documented/observed statuses match', () => {
    const doc = readFixture<{ errors: Array<{ code: string; httpStatus: number | null; body: unknown }> }>('notifications', 'errors.json');
    const args: Record<string, string[]> = {
      AF20023: [' by a tenant admin'],
      AF20051: ['20240514000412101431415$20240514000747992346480$audit_exchange$Audit_Exchange$na0034'],
      AF429: ['GetBlob', '00000000-0000-0000-0000-000000000000'],
    };
    for (const entry of doc.errors) {
      const made = apiError(entry.code as ErrorCode, ...(args[entry.code] ?? []));
      assert.deepEqual(made.body, entry.body, entry.code);
      if (entry.httpStatus !== null) assert.equal(made.status, entry.httpStatus, entry.code);
    }
  });

  it('window rules: both-or-neither, ≤24 h, start before end, ≤7 days back, documented formats', () => {
    const now = new Date('2024-05-20T12:00:00Z');
    const code = (s?: string, e?: string) => {
      const r = resolveWindow(s, e, now);
      return r.ok ? 'ok' : r.error.body.error.code;
    };
    assert.equal(code('2024-05-14T00:00', undefined), 'AF20030');
    assert.equal(code(undefined, '2024-05-14'), 'AF20030');
    assert.equal(code('2024-05-18T00:00:00', '2024-05-19T00:00:01'), 'AF20030');
    assert.equal(code('2024-05-18T00:00:00', '2024-05-19T00:00:00'), 'ok');
    assert.equal(code('2024-05-13T11:59:59', '2024-05-14T00:00:00'), 'AF20030');
    assert.equal(code('2024-05-13T12:00:00', '2024-05-14T00:00:00'), 'ok');
    assert.equal(code('2024-05-19T10:00', '2024-05-19T09:00'), 'AF20055');
    assert.equal(code('2024-05-19T10:00', '2024-05-19T10:00'), 'AF20055');
    assert.equal(code('2024-05-19', '2024-05-20'), 'ok');
    assert.equal(code('2024-05-19T10:00:00.000Z', '2024-05-19T11:00:00Z'), 'ok');
    assert.equal(code('2024-05-19T10:00:00+01:00', '2024-05-19T11:00:00'), 'AF20002');
    assert.equal(code('2024-02-30', '2024-03-01'), 'AF20002');
    const implicit = resolveWindow(undefined, undefined, now);
    assert.ok(implicit.ok && implicit.window.end.getTime() - implicit.window.start.getTime() === 24 * hour + 1);
  });

  it('page tokens round-trip, reject junk, and pages cover a list exactly once', () => {
    const position = { created: new Date('2024-05-14T05:00:00.123Z'), sequence: 42 };
    const token = encodePageToken(position);
    assert.match(token, /^20240514050000123R0{10}42$/);
    assert.deepEqual(decodePageToken(token), position);
    for (const bad of ['', 'abc', '20240514050000123R42', '20241314050000123R000000000042', token + '0']) assert.equal(decodePageToken(bad), undefined, bad);
    const items = Array.from({ length: 7 }, (_, i) => ({ created: new Date(Date.UTC(2024, 4, 14, 0, i)), sequence: i + 1 }));
    const seen: number[] = [];
    let from: (typeof items)[number] | undefined;
    for (;;) {
      const page = pageFrom(items, from, 3);
      seen.push(...page.items.map((i) => i.sequence));
      if (!page.next) break;
      from = { ...page.next };
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
  });

  it('content ids look like the real ones and malformed ids are recognised', () => {
    const id = generateContentId('Audit.Exchange', new Date('2024-05-14T09:15:02.517Z'), 7);
    assert.equal(id, '20240514091502517000007$20240514091732517000007$audit_exchange$Audit_Exchange$na0034');
    assert.ok(isWellFormedContentId(id));
    assert.ok(isWellFormedContentId('492638008028$492638008028$f28ab78ad40140608012736e373933ebspo2015043022$4a81a7c326fc4aed89c62e6039ab833b$04'));
    for (const bad of ['nodollar', '$leading', 'a$$b', 'a%24b', 'a$b/c', '']) assert.equal(isWellFormedContentId(bad), false, bad);
  });

  it('client assertions: RS256 with x5t verifies; a wrong key, audience or issuer does not', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const cert = new X509Certificate(clientCert.certificatePem);
    const x5t = createHash('sha1').update(cert.raw).digest('base64url');
    const jwt = (claims: object, key = clientCert.privateKeyPem) => {
      const head = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5t })).toString('base64url');
      const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), key).toString('base64url')}`;
    };
    const nowSeconds = Math.floor(Date.now() / 1000);
    const aud = 'https://127.0.0.1:1/t/oauth2/v2.0/token';
    const good = { aud, iss: C1, sub: C1, exp: nowSeconds + 600, nbf: nowSeconds };
    const expect = { clientId: C1, certificatePem: clientCert.certificatePem, audiences: [aud], nowSeconds };
    assert.deepEqual(verifyClientAssertion(jwt(good), expect), { ok: true });
    assert.equal(verifyClientAssertion(jwt(good, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), expect).ok, false);
    assert.equal(verifyClientAssertion(jwt({ ...good, aud: 'https://elsewhere/token' }), expect).ok, false);
    assert.equal(verifyClientAssertion(jwt({ ...good, iss: C2, sub: C2 }), expect).ok, false);
    assert.equal(verifyClientAssertion(jwt({ ...good, exp: nowSeconds - 3600 }), expect).ok, false);
  });
});

describe('simulator: tokens and API authentication', () => {
  let sim: Simulator;
  before(async () => {
    sim = await simulator();
  });
  after(() => sim.close());

  it('real ClientSecretCredential gets a token after reading the OpenID metadata, without NODE_EXTRA_CA_CERTS', async () => {
    const token = await tokenFor(sim, T1, C1, S1);
    assert.ok(token.length > 20);
    const inbound = sim.journal.filter((e) => e.direction === 'in' && e.tenantId === T1);
    assert.deepEqual(
      inbound.map((e) => `${e.method} ${e.path}`),
      [`GET /${T1}/v2.0/.well-known/openid-configuration`, `POST /${T1}/oauth2/v2.0/token`],
    );
    assert.equal(sim.tokenRequests(T1), 1);
    const list = await call(sim, 'GET', feed(sim, T1, 'subscriptions/list'), { token });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json(), []);
  });

  it('real ClientCertificateCredential gets a token; the assertion is checked against the registered certificate', async () => {
    const credential = new ClientCertificateCredential(T1, C1, { certificate: clientCert.combinedPem }, simulatorCredentialOptions(sim));
    const token = (await credential.getToken('https://manage.office.com/.default')).token;
    assert.equal((await call(sim, 'GET', feed(sim, T1, 'subscriptions/list'), { token })).status, 200);
    const tokenPost = sim.journal.filter((e) => e.path.endsWith('/oauth2/v2.0/token')).at(-1);
    assert.equal((tokenPost?.body as Record<string, string>)['client_assertion_type'], 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');

    const stranger = new ClientCertificateCredential(T1, C1, { certificate: strangerCert.combinedPem }, simulatorCredentialOptions(sim));
    await assert.rejects(stranger.getToken('https://manage.office.com/.default'), /700027/);
    assert.equal(sim.journal.at(-1)?.status, 401);
  });

  it('identity trusts the simulator only through the trust policy (no global CA setting is involved)', async () => {
    const plain = new ClientSecretCredential(T1, C1, S1, { authorityHost: sim.authorityHost, disableInstanceDiscovery: true });
    await assert.rejects(plain.getToken('https://manage.office.com/.default'));
  });

  it('the v1 token endpoint (resource=) issues tokens the API accepts', async () => {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: C1, client_secret: S1, resource: 'https://manage.office.com' });
    const answer = await call(sim, 'POST', `${sim.authorityHost}/${T1}/oauth2/token`, {
      body: form.toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(answer.status, 200);
    const issued = answer.json() as { token_type: string; access_token: string; resource: string };
    assert.equal(issued.token_type, 'Bearer');
    assert.equal(issued.resource, 'https://manage.office.com');
    assert.equal((await call(sim, 'GET', feed(sim, T1, 'subscriptions/list'), { token: issued.access_token })).status, 200);
  });

  it('refuses a wrong secret, an unknown app and an unknown tenant', async () => {
    await assert.rejects(tokenFor(sim, T1, C1, 'wrong-secret-value'), /7000215/);
    await assert.rejects(tokenFor(sim, T1, C2, S2), /700016/);
    const nowhere = '11111111-2222-4333-8444-555555555555';
    await assert.rejects(tokenFor(sim, nowhere, C1, S1), /endpoints_resolution_error/); // MSAL stops at the metadata
    assert.deepEqual(sim.journal.filter((e) => e.tenantId === nowhere).map((e) => `${e.method} ${e.status}`), ['GET 400']);
  });

  it('answers 401 to no token, an unknown token, another audience and an expired token', async () => {
    const url = feed(sim, T1, 'subscriptions/list');
    assert.equal((await call(sim, 'GET', url)).status, 401);
    const unknown = await call(sim, 'GET', url, { token: 'not-a-token-we-issued' });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.headers['www-authenticate'], 'Bearer');
    const graphToken = await tokenFor(sim, T1, C1, S1, 'https://graph.microsoft.com/.default');
    assert.equal((await call(sim, 'GET', url, { token: graphToken })).status, 401);

    const token = await tokenFor(sim, T1, C1, S1);
    assert.equal((await call(sim, 'GET', url, { token })).status, 200);
    sim.expireTokens(T1);
    assert.equal((await call(sim, 'GET', url, { token })).status, 401);
  });

  it('AF20010 when the URL tenant is not the token tenant; AF20013 for a non-GUID tenant; AF10001 without ActivityFeed.Read', async () => {
    const t2Token = await tokenFor(sim, T2, C2, S2);
    const mismatch = await call(sim, 'GET', feed(sim, T1, 'subscriptions/list'), { token: t2Token });
    assert.equal(errorCode(mismatch), 'AF20010');
    assert.equal(mismatch.status, 400);
    assert.equal(errorCode(await call(sim, 'GET', feed(sim, 'contoso', 'subscriptions/list'), { token: t2Token })), 'AF20013');
    const t3Token = await tokenFor(sim, T3, C1, S3);
    const noRead = await call(sim, 'GET', feed(sim, T3, 'subscriptions/list'), { token: t3Token });
    assert.equal(errorCode(noRead), 'AF10001');
  });
});

describe('simulator: subscriptions and the webhook handshake', () => {
  let sim: Simulator;
  let token: string;
  const time = clock('2024-05-14T12:00:00Z');
  before(async () => {
    sim = await simulator({ now: time.now });
    token = await tokenFor(sim, T1, C1, S1);
  });
  after(() => sim.close());

  it('starts without a webhook, lists it, and answers AF20024 to a second identical start', async () => {
    const first = await start(sim, token, 'Audit.General');
    assert.equal(first.status, 200);
    assert.deepEqual(first.json(), { contentType: 'Audit.General', status: 'enabled', webhook: null });
    assert.equal(errorCode(await start(sim, token, 'Audit.General')), 'AF20024');
    const list = await call(sim, 'GET', feed(sim, T1, 'subscriptions/list'), { token });
    assert.deepEqual(list.json(), [{ contentType: 'Audit.General', status: 'enabled', webhook: null }]);
  });

  it('validates a webhook: POST with Webhook-ValidationCode, the same code in the body and Webhook-AuthID; 200 enables it', async () => {
    const hook = await webhookListener([200]);
    try {
      const answer = await start(sim, token, 'Audit.Exchange', { address: hook.address, authId: 'hook-auth-id-Q7x2', expiration: '' });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), {
        contentType: 'Audit.Exchange',
        status: 'enabled',
        webhook: { status: 'enabled', address: hook.address, authId: 'hook-auth-id-Q7x2', expiration: null },
      });
      assert.equal(hook.received.length, 1);
      const validation = hook.received[0]!;
      const code = validation.headers['webhook-validationcode'];
      assert.ok(typeof code === 'string' && code.length > 10);
      assert.deepEqual(validation.body, { validationCode: code });
      assert.equal(validation.headers['webhook-authid'], 'hook-auth-id-Q7x2');
      assert.equal(validation.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(sim.subscriptions(T1).find((s) => s.contentType === 'Audit.Exchange')?.webhook?.status, 'enabled');
    } finally {
      await hook.close();
    }
  });

  it('AF20021 when the webhook answers anything but 200, or is not https; nothing changes', async () => {
    const hook = await webhookListener([202]);
    try {
      const refused = await start(sim, token, 'Audit.SharePoint', { address: hook.address });
      assert.equal(errorCode(refused), 'AF20021');
      assert.equal(hook.received.length, 1);
      assert.equal(sim.subscriptions(T1).some((s) => s.contentType === 'Audit.SharePoint'), false);
      const plain = await start(sim, token, 'Audit.SharePoint', { address: 'http://func-contoso.example.net/api/notify' });
      assert.equal(errorCode(plain), 'AF20021');
      assert.match((plain.json() as { error: { message: string } }).error.message, /HTTPS/);
    } finally {
      await hook.close();
    }
  });

  it('a changed start within 15 minutes answers AF429 (403, no Retry-After); after 15 minutes it goes through', async () => {
    const hook = await webhookListener([200]);
    try {
      const soon = await start(sim, token, 'Audit.General', { address: hook.address });
      assert.equal(errorCode(soon), 'AF429');
      assert.equal(soon.status, 403);
      assert.equal(soon.headers['retry-after'], undefined);
      assert.equal(hook.received.length, 0);
      time.advance(15 * 60_000);
      assert.equal((await start(sim, token, 'Audit.General', { address: hook.address })).status, 200);
    } finally {
      await hook.close();
    }
  });

  it('AF20003 for a past expiration; AF20001/AF20020 for a missing or unknown content type', async () => {
    const past = await start(sim, token, 'DLP.All', { address: 'https://127.0.0.1:9/x', expiration: '2024-05-01T00:00:00' });
    assert.equal(errorCode(past), 'AF20003');
    assert.equal(errorCode(await call(sim, 'POST', feed(sim, T1, 'subscriptions/start'), { token })), 'AF20001');
    assert.equal(errorCode(await call(sim, 'POST', feed(sim, T1, 'subscriptions/start', 'contentType=Audit.Teams'), { token })), 'AF20020');
  });

  it('stop answers 200 with an empty body, then listing and fetching answer AF20023; unknown subscriptions AF20022', async () => {
    const item = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'r1' }]);
    const stop = await call(sim, 'POST', feed(sim, T1, 'subscriptions/stop', 'contentType=Audit.Exchange'), { token });
    assert.equal(stop.status, 200);
    assert.equal(stop.text, '');
    assert.equal(sim.subscriptions(T1).find((s) => s.contentType === 'Audit.Exchange')?.status, 'disabled');
    assert.equal(errorCode(await call(sim, 'GET', feed(sim, T1, 'subscriptions/content', 'contentType=Audit.Exchange'), { token })), 'AF20023');
    assert.equal(errorCode(await call(sim, 'GET', blobUrl(item), { token })), 'AF20023');
    assert.equal(errorCode(await call(sim, 'GET', feed(sim, T1, 'subscriptions/content', 'contentType=DLP.All'), { token })), 'AF20022');
    assert.equal(errorCode(await call(sim, 'POST', feed(sim, T1, 'subscriptions/stop', 'contentType=DLP.All'), { token })), 'AF20022');
  });
});

describe('simulator: content listing and download', () => {
  let sim: Simulator;
  let token: string;
  const time = clock('2024-05-14T12:00:00Z');
  before(async () => {
    sim = await simulator({ now: time.now, pageSize: 2 });
    token = await tokenFor(sim, T1, C1, S1);
    assert.equal((await start(sim, token, 'Audit.Exchange')).status, 200);
    assert.equal((await start(sim, token, 'Audit.SharePoint')).status, 200);
  });
  after(() => sim.close());

  const list = (query: string) => call(sim, 'GET', feed(sim, T1, 'subscriptions/content', query), { token });

  it('rejects bad windows with AF20030 / AF20055 / AF20002', async () => {
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=2024-05-14T00:00')), 'AF20030');
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=2024-05-13T00:00&endTime=2024-05-14T00:00:01')), 'AF20030');
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=2024-05-07T11:59&endTime=2024-05-08T00:00')), 'AF20030');
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=2024-05-14T10:00&endTime=2024-05-14T09:00')), 'AF20055');
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=yesterday&endTime=today')), 'AF20002');
  });

  it('filters startTime <= contentCreated < endTime and pages with NextPageUri (full URL, nextPage, no PublisherIdentifier)', async () => {
    const created = ['2024-05-14T01:00:00Z', '2024-05-14T02:00:00Z', '2024-05-14T03:00:00Z', '2024-05-14T04:00:00Z', '2024-05-14T05:00:00Z', '2024-05-14T06:00:00Z'];
    const published = [];
    for (const c of created) published.push(await sim.publish(T1, 'Audit.Exchange', [{ Id: c }], { contentCreated: new Date(c) }));
    await sim.publish(T1, 'Audit.SharePoint', [{ Id: 'other type' }], { contentCreated: new Date('2024-05-14T03:30:00Z') });

    const seen: string[] = [];
    let answer = await list('contentType=Audit.Exchange&startTime=2024-05-14T02:00:00&endTime=2024-05-14T06:00:00');
    const pageSizes: number[] = [];
    for (;;) {
      assert.equal(answer.status, 200);
      const items = answer.json() as Array<{ contentId: string; contentUri: string; contentCreated: string; contentExpiration: string; contentType: string }>;
      pageSizes.push(items.length);
      for (const item of items) {
        assert.equal(item.contentType, 'Audit.Exchange');
        assert.equal(item.contentUri, `${sim.apiRoot(T1)}/audit/${item.contentId}`);
        assert.equal(new Date(item.contentExpiration).getTime() - new Date(item.contentCreated).getTime(), 7 * 24 * hour);
        seen.push(item.contentCreated);
      }
      const next = answer.headers['nextpageuri'];
      if (next === undefined) break;
      assert.ok(typeof next === 'string');
      assert.ok(next.startsWith(`${sim.apiRoot(T1)}/subscriptions/content?contentType=Audit.Exchange&startTime=2024-05-14T02:00:00&endTime=2024-05-14T06:00:00&nextPage=`), next);
      assert.doesNotMatch(next, /PublisherIdentifier/);
      answer = await call(sim, 'GET', `${next}&PublisherIdentifier=${PUB}`, { token });
    }
    assert.deepEqual(pageSizes, [2, 2]);
    assert.deepEqual(seen, ['2024-05-14T02:00:00.000Z', '2024-05-14T03:00:00.000Z', '2024-05-14T04:00:00.000Z', '2024-05-14T05:00:00.000Z']);
    assert.equal(published.length, 6);
  });

  it('injectListingItem puts any raw JSON on one stream\'s listing, verbatim and in listing order, across pages', async () => {
    const odd = [null, 7, { contentId: 'x', contentUri: 'https://evil.example/a' }];
    sim.injectListingItem(T1, 'Audit.SharePoint', odd[0], { contentCreated: new Date('2024-05-14T08:00:00Z') });
    sim.injectListingItem(T1, 'Audit.SharePoint', odd[1], { contentCreated: new Date('2024-05-14T08:30:00Z') });
    sim.injectListingItem(T1, 'Audit.SharePoint', odd[2], { contentCreated: new Date('2024-05-14T09:30:00Z') });
    const good = await sim.publish(T1, 'Audit.SharePoint', [{ Id: 'good' }], { contentCreated: new Date('2024-05-14T09:00:00Z') });
    sim.injectListingItem(T1, 'Audit.Exchange', 'elsewhere', { contentCreated: new Date('2024-05-14T08:00:00Z') });
    const items: unknown[] = [];
    let answer = await list('contentType=Audit.SharePoint&startTime=2024-05-14T07:00:00&endTime=2024-05-14T10:00:00');
    for (;;) {
      assert.equal(answer.status, 200);
      items.push(...(answer.json() as unknown[]));
      const next = answer.headers['nextpageuri'];
      if (typeof next !== 'string') break;
      answer = await call(sim, 'GET', `${next}&PublisherIdentifier=${PUB}`, { token });
    }
    assert.deepEqual(items, [odd[0], odd[1], good, odd[2]]);
  });

  it('AF20031 for a junk nextPage token or one outside the window', async () => {
    assert.equal(errorCode(await list('contentType=Audit.Exchange&startTime=2024-05-14T00:00&endTime=2024-05-14T12:00&nextPage=junk')), 'AF20031');
    const outside = encodePageToken({ created: new Date('2024-05-13T00:00:00Z'), sequence: 1 });
    assert.equal(errorCode(await list(`contentType=Audit.Exchange&startTime=2024-05-14T00:00&endTime=2024-05-14T12:00&nextPage=${outside}`)), 'AF20031');
  });

  it('serves a fixture blob verbatim; AF20050 unknown, AF20052 malformed, AF20051 after contentExpiration', async () => {
    const file = fixturePath('content', 'Audit.SharePoint.json');
    const item = await sim.publishFile(T1, 'Audit.SharePoint', file);
    const blob = await call(sim, 'GET', blobUrl(item), { token });
    assert.equal(blob.status, 200);
    assert.equal(blob.text, readFileSync(file, 'utf8'));
    assert.equal(blob.headers['content-type'], 'application/json; charset=utf-8');

    const unknown = item.contentId.replace(/^\d{3}/, '199');
    assert.equal(errorCode(await call(sim, 'GET', `${sim.apiRoot(T1)}/audit/${unknown}`, { token })), 'AF20050');
    assert.equal(errorCode(await call(sim, 'GET', `${sim.apiRoot(T1)}/audit/${item.contentId.replace(/\$/g, '%24')}`, { token })), 'AF20052');

    time.set(item.contentExpiration);
    assert.equal((await call(sim, 'GET', blobUrl(item), { token })).status, 200);
    time.advance(1);
    const expired = await call(sim, 'GET', blobUrl(item), { token });
    assert.equal(errorCode(expired), 'AF20051');
    assert.match(expired.text, new RegExp(item.contentId.replace(/\$/g, '\\$')));
  });

  it('resources/dlpSensitiveTypes: names for sensitive-type GUIDs; AF20053/AF20054 for a bad Accept-Language', async () => {
    const url = `${sim.apiRoot(T1)}/resources/dlpSensitiveTypes?PublisherIdentifier=${PUB}`;
    const names = await call(sim, 'GET', url, { token, headers: { 'Accept-Language': 'en-US' } });
    assert.deepEqual(names.json(), [{ id: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', name: 'Credit Card Number' }]);
    assert.equal(errorCode(await call(sim, 'GET', url, { token, headers: { 'Accept-Language': 'en-US, de-DE' } })), 'AF20053');
    assert.equal(errorCode(await call(sim, 'GET', url, { token, headers: { 'Accept-Language': 'en_US;;' } })), 'AF20054');
  });

  it('an admin-disabled subscription answers AF20023 ("by a tenant admin") until started again', async () => {
    sim.disableSubscription(T1, 'Audit.SharePoint');
    const answer = await list('contentType=Audit.SharePoint');
    assert.deepEqual(answer.json(), { error: { code: 'AF20023', message: 'The subscription was disabled by a tenant admin.' } });
    time.advance(24 * hour);
    assert.equal((await start(sim, token, 'Audit.SharePoint')).status, 200);
    assert.equal((await list('contentType=Audit.SharePoint')).status, 200);
  });
});

describe('simulator: webhook notifications', () => {
  let sim: Simulator;
  let token: string;
  const time = clock('2024-05-14T12:00:00Z');
  before(async () => {
    sim = await simulator({ now: time.now, notifyBatchSize: 2, startSpacingMinutes: 0 });
    token = await tokenFor(sim, T1, C1, S1);
  });
  after(() => sim.close());

  it('POSTs batched JSON arrays with Webhook-AuthID and the documented Content-Type and fields', async () => {
    const hook = await webhookListener([200]);
    try {
      assert.equal((await start(sim, token, 'Audit.Exchange', { address: hook.address, authId: 'notify-auth-K3m9' })).status, 200);
      const items = [];
      for (let i = 0; i < 3; i++) items.push(await sim.publish(T1, 'Audit.Exchange', [{ Id: `n${i}` }]));
      await sim.flushNotifications();
      const posts = hook.notifications();
      assert.deepEqual(posts.map((p) => (p.body as unknown[]).length), [2, 1]);
      for (const p of posts) {
        assert.equal(p.headers['webhook-authid'], 'notify-auth-K3m9');
        assert.equal(p.headers['content-type'], 'application/json; utf-8');
      }
      const delivered = posts.flatMap((p) => p.body as Array<Record<string, string>>);
      assert.deepEqual(delivered, items.map((item) => ({ tenantId: T1, clientId: C1, ...item })));
    } finally {
      await hook.close();
    }
  });

  it('retries a failed delivery and lists every attempt under /subscriptions/notifications', async () => {
    const hook = await webhookListener([200, 500, 200]); // validation, first delivery fails, retry succeeds
    try {
      assert.equal((await start(sim, token, 'Audit.SharePoint', { address: hook.address, authId: 'retry-auth-P4n8' })).status, 200);
      const item = await sim.publish(T1, 'Audit.SharePoint', [{ Id: 'retry-me' }]);
      await sim.flushNotifications();
      const posts = hook.notifications();
      assert.equal(posts.length, 2);
      assert.deepEqual(posts[0]!.body, posts[1]!.body);
      assert.equal(posts[1]!.headers['webhook-authid'], 'retry-auth-P4n8');
      const diag = await call(sim, 'GET', feed(sim, T1, 'subscriptions/notifications', 'contentType=Audit.SharePoint'), { token });
      const attempts = diag.json() as Array<{ contentId: string; notificationStatus: string; notificationSent: string }>;
      assert.deepEqual(attempts.map((a) => [a.contentId, a.notificationStatus]), [[item.contentId, 'failed'], [item.contentId, 'success']]);
      assert.equal(sim.subscriptions(T1).find((s) => s.contentType === 'Audit.SharePoint')?.webhook?.status, 'enabled');
    } finally {
      await hook.close();
    }
  });

  it('a webhook past its expiration shows as expired and receives nothing', async () => {
    const hook = await webhookListener([200]);
    try {
      const started = await start(sim, token, 'DLP.All', { address: hook.address, expiration: '2024-05-14T13:00:00' });
      assert.equal(started.status, 200);
      assert.equal((started.json() as { webhook: { expiration: string } }).webhook.expiration, '2024-05-14T13:00:00');
      time.advance(2 * hour);
      assert.equal(sim.subscriptions(T1).find((s) => s.contentType === 'DLP.All')?.webhook?.status, 'expired');
      await sim.publish(T1, 'DLP.All', [{ Id: 'too late' }]);
      await sim.flushNotifications();
      assert.equal(hook.notifications().length, 0);
    } finally {
      await hook.close();
    }
  });

  it('disables the webhook when every retry failed; listing still works, no more notifications', async () => {
    const hook = await webhookListener([200, 503]);
    try {
      assert.equal((await start(sim, token, 'Audit.General', { address: hook.address })).status, 200);
      await sim.publish(T1, 'Audit.General', [{ Id: 'never delivered' }]);
      await sim.flushNotifications();
      assert.equal(hook.notifications().length, 3); // first try + the two scheduled retries
      assert.equal(sim.subscriptions(T1).find((s) => s.contentType === 'Audit.General')?.webhook?.status, 'disabled');
      await sim.publish(T1, 'Audit.General', [{ Id: 'after disable' }]);
      await sim.flushNotifications();
      assert.equal(hook.notifications().length, 3);
      assert.equal((await call(sim, 'GET', feed(sim, T1, 'subscriptions/content', 'contentType=Audit.General'), { token })).status, 200);
    } finally {
      await hook.close();
    }
  });
});

describe('simulator: fault knobs', () => {
  let sim: Simulator;
  let token: string;
  let draws: number[] = [];
  const time = clock('2024-05-14T12:00:00Z');
  before(async () => {
    sim = await simulator({
      now: time.now,
      startSpacingMinutes: 0,
      rateLimits: { withoutPublisherPerMinute: 3 },
      random: () => draws.shift() ?? 0.99,
    });
    token = await tokenFor(sim, T1, C1, S1);
    assert.equal((await start(sim, token, 'Audit.Exchange')).status, 200);
  });
  after(() => sim.close());
  const listUrl = () => feed(sim, T1, 'subscriptions/list');

  it('throttle: the next N requests answer AF429 as 403 without Retry-After, or as 429 with it when asked', async () => {
    sim.faults.throttle = { remaining: 1, status: 403 };
    const throttled = await call(sim, 'GET', listUrl(), { token });
    assert.equal(throttled.status, 403);
    assert.deepEqual(throttled.json(), { error: { code: 'AF429', message: `Too many requests. Method=ListSubscriptions, PublisherId=${PUB}` } });
    assert.equal(throttled.headers['retry-after'], undefined);
    assert.equal((await call(sim, 'GET', listUrl(), { token })).status, 200);
    sim.faults.throttle = { remaining: 1, status: 429, retryAfterSeconds: 7 };
    const variant = await call(sim, 'GET', listUrl(), { token });
    assert.equal(variant.status, 429);
    assert.equal(variant.headers['retry-after'], '7');
  });

  it('requests without PublisherIdentifier share a smaller budget (PublisherId all zeros in the message)', async () => {
    const bare = `${sim.apiRoot(T1)}/subscriptions/list`;
    for (let i = 0; i < 3; i++) assert.equal((await call(sim, 'GET', bare, { token })).status, 200);
    const fourth = await call(sim, 'GET', bare, { token });
    assert.equal(fourth.status, 403);
    assert.match((fourth.json() as { error: { message: string } }).error.message, /PublisherId=00000000-0000-0000-0000-000000000000$/);
    assert.equal((await call(sim, 'GET', listUrl(), { token })).status, 200);
    time.advance(60_000);
    assert.equal((await call(sim, 'GET', bare, { token })).status, 200);
  });

  it('server errors: the next N answer the chosen 5xx with an AF50000 body', async () => {
    sim.faults.serverErrors = { remaining: 2, status: 503 };
    for (let i = 0; i < 2; i++) {
      const failed = await call(sim, 'GET', listUrl(), { token });
      assert.equal(failed.status, 503);
      assert.equal(errorCode(failed), 'AF50000');
    }
    assert.equal((await call(sim, 'GET', listUrl(), { token })).status, 200);
  });

  it('truncated content: a cut JSON body, or a connection closed mid-body', async () => {
    const item = await sim.publish(T1, 'Audit.Exchange', Array.from({ length: 20 }, (_, i) => ({ Id: `t${i}`, Operation: 'Set-Mailbox' })));
    sim.faults.truncateContent = { remaining: 1 };
    const cut = await call(sim, 'GET', blobUrl(item), { token });
    assert.equal(cut.status, 200);
    assert.throws(() => cut.json());
    sim.faults.truncateContent = { remaining: 1, mode: 'abort' };
    await assert.rejects(call(sim, 'GET', blobUrl(item), { token }));
    const whole = await call(sim, 'GET', blobUrl(item), { token });
    assert.equal((whole.json() as unknown[]).length, 20);
  });

  it('expired content: the next N downloads answer AF20051 whatever their age', async () => {
    const item = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'young' }]);
    sim.faults.expiredContent = { remaining: 1 };
    assert.equal(errorCode(await call(sim, 'GET', blobUrl(item), { token })), 'AF20051');
    assert.equal((await call(sim, 'GET', blobUrl(item), { token })).status, 200);
  });

  it('expireContent: that one blob answers AF20051 from now on, others are untouched', async () => {
    const gone = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'gone' }]);
    const kept = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'kept' }]);
    sim.expireContent(T1, gone.contentId);
    assert.equal(errorCode(await call(sim, 'GET', blobUrl(gone), { token })), 'AF20051');
    assert.equal((await call(sim, 'GET', blobUrl(kept), { token })).status, 200);
    assert.throws(() => sim.expireContent(T1, 'no$such$content'), /no content/);
  });

  it('chance: each request throttled (403 or 429) or answered 5xx with the given odds', async () => {
    // Draws: throttle? yes, status 403 | throttle? yes, status 429 | throttle? no, 5xx? yes, 502 | neither.
    draws = [0.01, 0.2, 0.01, 0.7, 0.9, 0.01, 0.5, 0.9, 0.9];
    sim.faults.chance = { throttle: 0.05, serverError: 0.05 };
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await call(sim, 'GET', listUrl(), { token }));
      assert.deepEqual(answers.map((a) => [a.status, errorCode(a)]), [[403, 'AF429'], [429, 'AF429'], [502, 'AF50000'], [200, undefined]]);
    } finally {
      sim.faults.chance = { throttle: 0, serverError: 0 };
    }
  });

  it('slow answers: delayMs holds every API answer back (answers still arrive intact)', async () => {
    sim.faults.delayMs = 30;
    try {
      assert.equal((await call(sim, 'GET', listUrl(), { token })).status, 200);
    } finally {
      sim.faults.delayMs = 0;
    }
  });

  it('dropped, duplicated and failed notifications', async () => {
    const hook = await webhookListener([200]);
    try {
      assert.equal((await start(sim, token, 'Audit.Exchange', { address: hook.address })).status, 200);
      sim.faults.dropNotifications = 0.5;
      sim.faults.duplicateNotifications = 0.5;
      draws = [0.1]; // first publish: dropped
      const dropped = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'dropped' }]);
      draws = [0.9, 0.2]; // second publish: kept, duplicated
      const doubled = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'doubled' }]);
      await sim.flushNotifications();
      const ids = hook.notifications().flatMap((p) => (p.body as Array<{ contentId: string }>).map((n) => n.contentId));
      assert.deepEqual(ids, [doubled.contentId, doubled.contentId]);
      assert.ok(!ids.includes(dropped.contentId));

      sim.faults.dropNotifications = 0;
      sim.faults.duplicateNotifications = 0;
      sim.faults.failNotifyAttempts = 1;
      const before = hook.notifications().length;
      const retried = await sim.publish(T1, 'Audit.Exchange', [{ Id: 'first attempt fails' }]);
      await sim.flushNotifications();
      const after = hook.notifications().slice(before);
      assert.equal(after.length, 1); // the failed attempt never reached the webhook; the retry did
      assert.equal((after[0]!.body as Array<{ contentId: string }>)[0]!.contentId, retried.contentId);
      const diag = await call(sim, 'GET', feed(sim, T1, 'subscriptions/notifications', 'contentType=Audit.Exchange'), { token });
      const statuses = (diag.json() as Array<{ contentId: string; notificationStatus: string }>).filter((d) => d.contentId === retried.contentId).map((d) => d.notificationStatus);
      assert.deepEqual(statuses, ['failed', 'success']);
    } finally {
      await hook.close();
    }
  });
});

describe('simulator: journal', () => {
  it('records every request with headers and counts, and no secret, token, assertion or authId in any form', async () => {
    const sim = await simulator({ startSpacingMinutes: 0 });
    const hook = await webhookListener([200]);
    try {
      const token = await tokenFor(sim, T1, C1, S1);
      const certToken = (await new ClientCertificateCredential(T1, C1, { certificate: clientCert.combinedPem }, simulatorCredentialOptions(sim)).getToken('https://manage.office.com/.default')).token;
      const authId = 'journal-auth-id-Hq83Ls';
      assert.equal((await start(sim, token, 'Audit.Exchange', { address: hook.address, authId })).status, 200);
      await sim.publish(T1, 'Audit.Exchange', [{ Id: 'j1' }]);
      await sim.flushNotifications();
      assert.equal((await call(sim, 'GET', `${feed(sim, T1, 'subscriptions/list')}&client_secret=${S1}`, { token: certToken })).status, 200);

      const text = JSON.stringify(sim.journal);
      for (const secret of [S1, token, certToken, authId]) {
        for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) assert.ok(!text.includes(form), 'a secret reached the journal');
      }
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\./, 'a JWT (client assertion) reached the journal');

      const apiCalls = sim.journal.filter((e) => e.direction === 'in' && e.path.startsWith('/api/'));
      assert.equal(apiCalls.length, 2);
      assert.equal(apiCalls[0]!.headers['authorization'], 'Bearer [redacted]');
      assert.equal(apiCalls[0]!.query['contentType'], 'Audit.Exchange');
      assert.equal(apiCalls[0]!.tenantId, T1);
      const outgoing = sim.journal.filter((e) => e.direction === 'out');
      assert.equal(outgoing.length, 2); // validation + one notification
      assert.ok(outgoing.every((e) => e.headers['webhook-authid'] === '[redacted]' && e.status === 200));
      assert.equal(sim.tokenRequests(), 2);
    } finally {
      await hook.close();
      await sim.close();
    }
  });
});
