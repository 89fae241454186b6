import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ContentType } from '../shared/api/content-types';
import { acceptWebhookRequest, type WebhookPolicy, type WebhookRequest } from '../shared/pipeline/accept-notifications';
import type { ContentMessage } from '../shared/pipeline/content-message';
import { matchAuthId } from '../shared/pipeline/webhook-auth';
import { readFixture } from './support/fixtures';

interface RecordedRequest {
  headers: Record<string, string>;
  body: unknown;
}
const notification = readFixture<RecordedRequest>('notifications', 'notification.json');
const validation = readFixture<RecordedRequest>('notifications', 'validation.json');
const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const authId = notification.headers['Webhook-AuthID']!;
const allTypes: ContentType[] = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'];

const policy = (overrides: Partial<WebhookPolicy> = {}): WebhookPolicy => ({
  clientId: '676e8273-3c93-4205-910f-614bb4396a55',
  tenants: new Map([[tenant, new Set(allTypes)]]),
  authIds: [{ value: authId }],
  apiOrigin: 'https://manage.office.com',
  maxBodyBytes: 1024 * 1024,
  ...overrides,
});

function request(headers: Record<string, string>, body: unknown): WebhookRequest {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return { header: (name) => lower.get(name.toLowerCase()) ?? null, body: async () => bytes };
}

async function accept(req: WebhookRequest, p = policy()) {
  const queued: ContentMessage[] = [];
  const answer = await acceptWebhookRequest(req, p, async (messages) => void queued.push(...messages));
  return { answer, queued };
}

const items = notification.body as Array<Record<string, string>>;

describe('webhook acceptance', () => {
  it('answers the validation handshake with 200 and queues nothing', async () => {
    const { answer, queued } = await accept(request(validation.headers, validation.body));
    assert.equal(answer.status, 200);
    assert.equal(queued.length, 0);
  });

  it('queues one message per valid notification, with the contentId checked against its contentUri', async () => {
    const { answer, queued } = await accept(request(notification.headers, notification.body));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.accepted, 3);
    assert.deepEqual(queued.map((m) => m.contentId), items.map((i) => i.contentId));
    assert.ok(queued.every((m) => m.tenantId === tenant && m.waits === 0));
  });

  it('refuses a missing or wrong Webhook-AuthID with 401, on validation requests too', async () => {
    const attempts: Array<Record<string, string>> = [{}, { 'Webhook-AuthID': 'wrong' }, { 'Webhook-AuthID': authId + 'x' }];
    for (const headers of attempts) {
      assert.equal((await accept(request(headers, notification.body))).answer.status, 401);
      assert.equal((await accept(request({ ...headers, 'Webhook-ValidationCode': 'abc' }, { validationCode: 'abc' }))).answer.status, 401);
    }
  });

  it('accepts any of several authIds (rotation) and honours an authId bound to other tenants', async () => {
    const rotated = policy({ authIds: [{ value: 'new-id-0123456789' }, { value: authId }] });
    assert.equal((await accept(request(notification.headers, notification.body), rotated)).answer.status, 200);
    const bound = policy({ authIds: [{ value: authId, tenants: new Set(['11111111-1111-1111-1111-111111111111']) }] });
    const { answer, queued } = await accept(request(notification.headers, notification.body), bound);
    assert.equal(answer.status, 200);
    assert.equal(queued.length, 0);
    assert.deepEqual(answer.body.rejected, { 'authId-tenant': 3 });
  });

  it('answers 400 with a reason for a body that is not JSON or not an array, and 413 when too large', async () => {
    const bad = await accept(request(notification.headers, '[{"tenantId":'));
    assert.equal(bad.answer.status, 400);
    assert.match(bad.answer.body.error!, /not JSON/);
    assert.equal((await accept(request(notification.headers, '42'))).answer.status, 400);
    const big = await accept(request(notification.headers, notification.body), policy({ maxBodyBytes: 100 }));
    assert.equal(big.answer.status, 413);
  });

  it('checks the authId, then the declared length, and only then reads the body', async () => {
    let reads = 0;
    const declaring = (headers: Record<string, string>, length: number): WebhookRequest => ({
      ...request({ ...headers, 'Content-Length': String(length) }, '[]'),
      body: async () => (reads++, Buffer.from('[]')),
    });
    const huge = 64 * 1024 * 1024;
    assert.equal((await accept(declaring({ 'Webhook-AuthID': 'wrong' }, huge))).answer.status, 401, 'a stranger learns nothing about sizes');
    assert.equal((await accept(declaring(notification.headers, huge))).answer.status, 413);
    assert.equal(reads, 0, 'no body read for either');
    assert.equal((await accept(declaring(notification.headers, 2))).answer.status, 200);
    assert.equal(reads, 1);
  });

  it('drops forged items without failing the batch: other host, other tenant, wrong clientId, unsubscribed type', async () => {
    const good = items[0]!;
    const forged = [
      { ...good, contentUri: good.contentUri!.replace('manage.office.com', 'manage.office.com.evil.example') },
      { ...good, contentUri: good.contentUri!.replace('https://manage.office.com', 'https://manage.office.com:8443') },
      { ...good, contentUri: good.contentUri!.replace(tenant, '11111111-1111-1111-1111-111111111111') },
      { ...good, tenantId: '11111111-1111-1111-1111-111111111111' },
      { ...good, clientId: '00000000-0000-0000-0000-000000000000' },
      { ...good, contentId: 'other$id' },
      { ...good, contentType: 'Audit.Unknown' },
      { tenantId: tenant },
      'not an object',
    ];
    const onlyExchange = policy({ tenants: new Map([[tenant, new Set<ContentType>(['Audit.Exchange'])]]) });
    const { answer, queued } = await accept(request(notification.headers, [...forged, ...items]), onlyExchange);
    assert.equal(answer.status, 200);
    assert.deepEqual(queued.map((m) => m.contentId), [good.contentId]);
    assert.deepEqual(answer.body.rejected, { contentUri: 4, tenant: 1, clientId: 1, contentType: 3, shape: 2 });
  });

  it('reads times with the one API-time parser: an item with a time Date.parse would take is dropped as shape, alone', async () => {
    const good = items[0]!;
    const badTimes = ['1 2 3', 'March 7, 2024', '2024-02-30T00:00:00Z', '', '2024-05-14 10:00:00Z'];
    const odd = badTimes.flatMap((t) => [{ ...good, contentCreated: t }, { ...good, contentExpiration: t }]);
    const oddAt = Math.floor(Math.random() * (items.length + 1));
    const batch = [...items.slice(0, oddAt), ...odd, ...items.slice(oddAt)];
    const { answer, queued } = await accept(request(notification.headers, batch));
    assert.equal(answer.status, 200);
    assert.deepEqual(queued.map((m) => m.contentId).sort(), [...new Set(items.map((i) => i.contentId!))].sort());
    assert.deepEqual(answer.body.rejected, { shape: odd.length });
    // The API's own spellings pass: seven fractional digits, no zone (UTC).
    const spelled = { ...good, contentCreated: '2024-05-14T10:00:00.1234567', contentExpiration: '2024-05-21T10:00:00' };
    assert.equal((await accept(request(notification.headers, [spelled]))).queued.length, 1);
  });

  it('accepts a body that starts with a UTF-8 byte order mark', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(notification.body))]);
    const lower = new Map(Object.entries(notification.headers).map(([k, v]) => [k.toLowerCase(), v]));
    const { answer, queued } = await accept({ header: (name) => lower.get(name.toLowerCase()) ?? null, body: async () => bytes });
    assert.equal(answer.status, 200);
    assert.equal(queued.length, items.length);
    const validationBytes = Buffer.concat([Buffer.from('\ufeff'), Buffer.from(JSON.stringify(validation.body))]);
    const handshake = await accept({ header: (name) => ({ 'webhook-authid': authId })[name.toLowerCase()] ?? null, body: async () => validationBytes });
    assert.deepEqual(handshake.answer, { status: 200, body: { validated: true } });
  });

  it('treats an array as notifications even with a Webhook-ValidationCode header: the items are queued, not dropped', async () => {
    const { answer, queued } = await accept(request({ ...notification.headers, 'Webhook-ValidationCode': 'abc123' }, notification.body));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.validated, undefined);
    assert.equal(queued.length, items.length);
  });

  it('drops, alone, an item whose contentType is not the one its contentUri names', async () => {
    const good = items[0]!; // an Audit.Exchange blob
    const odd = { ...good, contentType: 'Audit.SharePoint' };
    const oddAt = Math.floor(Math.random() * (items.length + 1));
    const { answer, queued } = await accept(request(notification.headers, [...items.slice(0, oddAt), odd, ...items.slice(oddAt)]));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.rejected, { contentType: 1 });
    assert.deepEqual(queued.map((m) => m.contentId), items.map((i) => i.contentId));
    assert.ok(queued.every((m) => m.contentType === items.find((i) => i.contentId === m.contentId)!.contentType));
  });

  it('answers 503 when the queue does not accept, so the API sends the batch again', async () => {
    const answer = await acceptWebhookRequest(request(notification.headers, notification.body), policy(), async () => {
      throw new Error('queue down');
    });
    assert.equal(answer.status, 503);
  });

  it('answers every generated request as the contract says and never queues an unchecked item', async () => {
    const anyItem = fc.record({
      tenantId: fc.oneof(fc.constant(tenant), fc.uuid(), fc.string()),
      clientId: fc.oneof(fc.constant('676e8273-3c93-4205-910f-614bb4396a55'), fc.string()),
      contentType: fc.constantFrom(...allTypes, 'x'),
      contentId: fc.oneof(fc.constant(items[0]!.contentId!), fc.string()),
      contentUri: fc.oneof(fc.constant(items[0]!.contentUri!), fc.webUrl(), fc.string()),
      contentCreated: fc.constant('2024-05-14T09:15:02.517Z'),
      contentExpiration: fc.constant('2024-05-21T09:15:02.517Z'),
    }, { requiredKeys: [] });
    const body = fc.oneof(fc.array(fc.oneof(anyItem, fc.jsonValue())), fc.jsonValue(), fc.string());
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom(authId, 'forged', ''), async (b, id) => {
        const { answer, queued } = await accept(request({ 'Webhook-AuthID': id }, typeof b === 'string' ? b : JSON.stringify(b)));
        assert.ok([200, 400, 401].includes(answer.status));
        if (id !== authId) assert.equal(answer.status, 401);
        for (const m of queued) {
          assert.equal(m.tenantId, tenant);
          assert.equal(m.contentId, items[0]!.contentId);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('matchAuthId', () => {
  it('matches exactly, never an empty or missing value', () => {
    assert.deepEqual(matchAuthId('abc-123-xyz', [{ value: 'abc-123-xyz' }]), { ok: true, tenants: undefined });
    assert.equal(matchAuthId('abc-123-xy', [{ value: 'abc-123-xyz' }]).ok, false);
    assert.equal(matchAuthId('', [{ value: '' }]).ok, false);
    assert.equal(matchAuthId(null, [{ value: 'abc' }]).ok, false);
  });
});
