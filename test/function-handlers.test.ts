// The triggers called directly with HttpRequest / InvocationContext, as the real worker would, against Azurite:
// the thin edge between the Functions runtime and the pipeline.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { QueueClient } from '@azure/storage-queue';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { contentWorker } from '../functions/contentWorker';
import { notifications } from '../functions/notifications';
import { resetRelayServices } from '../shared/services';
import { contentQueueName } from '../shared/state/content-queue';
import { readFixture } from './support/fixtures';

interface RecordedRequest {
  headers: Record<string, string>;
  body: unknown;
}
const notification = readFixture<RecordedRequest>('notifications', 'notification.json');
const validation = readFixture<RecordedRequest>('notifications', 'validation.json');
const authId = notification.headers['Webhook-AuthID']!;

let azurite: RunningAzurite;
const saved = { ...process.env };

before(async () => {
  azurite = await startAzurite({ blob: true, queue: true, table: true });
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    O365_TENANT_ID: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
    O365_CLIENT_ID: '676e8273-3c93-4205-910f-614bb4396a55',
    O365_CLIENT_SECRET: 'handler-test-secret-value',
    O365_WEBHOOK_URL: 'https://func-contoso-o365-ingest.azurewebsites.net/api/notifications',
    O365_WEBHOOK_AUTH_ID: authId,
    O365_LOG_LEVEL: 'error',
  });
  resetRelayServices();
});
after(async () => {
  resetRelayServices();
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  await azurite.close();
});

const context = (functionName: string, triggerMetadata?: Record<string, unknown>) =>
  new InvocationContext({ invocationId: `test-${functionName}`, functionName, logHandler: () => undefined, ...(triggerMetadata ? { triggerMetadata } : {}) });

const post = (headers: Record<string, string>, body: string) =>
  new HttpRequest({ method: 'POST', url: 'https://func.example/api/notifications', headers, body: { string: body } });

describe('notifications trigger', () => {
  it('answers the validation handshake with 200', async () => {
    const answer = await notifications(post(validation.headers, JSON.stringify(validation.body)), context('notifications'));
    assert.equal(answer.status, 200);
  });

  it('puts one queue message per notification before answering 200', async () => {
    const answer = await notifications(post(notification.headers, JSON.stringify(notification.body)), context('notifications'));
    assert.equal(answer.status, 200);
    const queue = new QueueClient(azurite.connectionString, contentQueueName);
    const peeked = await queue.peekMessages({ numberOfMessages: 32 });
    const ids = peeked.peekedMessageItems.map((m) => (JSON.parse(Buffer.from(m.messageText, 'base64').toString('utf8')) as { contentId: string }).contentId);
    assert.deepEqual(ids.sort(), (notification.body as Array<{ contentId: string }>).map((n) => n.contentId).sort());
  });

  it('refuses a wrong authId (401), a body that is not JSON (400) and a declared oversize body (413)', async () => {
    assert.equal((await notifications(post({ 'Webhook-AuthID': 'nope' }, '[]'), context('notifications'))).status, 401);
    const bad = await notifications(post(notification.headers, '{not json'), context('notifications'));
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.jsonBody), /not JSON/);
    const big = await notifications(post({ ...notification.headers, 'content-length': String(64 * 1024 * 1024) }, '[]'), context('notifications'));
    assert.equal(big.status, 413);
    const strangerBig = await notifications(post({ 'Webhook-AuthID': 'nope', 'content-length': String(64 * 1024 * 1024) }, '[]'), context('notifications'));
    assert.equal(strangerBig.status, 401, 'the authId is checked before the size');
  });
});

describe('contentWorker trigger', () => {
  it('throws on a message that is not a content message, so the host retries and poisons it', async () => {
    await assert.rejects(contentWorker({ hello: 'world' }, context('contentWorker', { dequeueCount: 1 })), /not a content message/);
  });

  it('refuses a message whose time is not an API time, naming the field (never a NaN delay), on every attempt', async () => {
    const message = {
      tenantId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
      contentType: 'Audit.Exchange',
      contentId: '20261125000000000000001$x$audit_exchange$Audit_Exchange$na0034',
      contentCreated: '2026-11-25T10:00:00Z',
      contentExpiration: 'next week',
    };
    for (const dequeueCount of [1, 5]) {
      await assert.rejects(contentWorker(message, context('contentWorker', { dequeueCount })), (err: unknown) => {
        assert.equal((err as { code?: unknown }).code, 'CONTENT_MESSAGE_INVALID');
        assert.match((err as Error).message, /contentExpiration: not an ISO 8601 date-time/);
        assert.doesNotMatch((err as Error).message, /next week/);
        return true;
      });
    }
  });
});
