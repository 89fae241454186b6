// The keeper's webhook warm-up is a courtesy, never a gate (issue 14): whatever our own call to the validation path
// gets (200, a 403 from the front end's inbound restriction, another 4xx, nothing), the starts go ahead. Proven on
// the warm-up itself against a real HTTP server, on keepSubscriptions with a real ledger, and end to end: the local
// host refuses every source but 127.0.0.2 (Azure's restriction to the API's service tag), the simulator calls from
// 127.0.0.2, and the keeper in the app still starts every subscription.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TenantFeed } from '../shared/api/client';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { createLogger, type LogFields, type Logger } from '../shared/log';
import { keepSubscriptions, type KeeperResult } from '../shared/pipeline/keep-subscriptions';
import { warmUpWebhook, warmWebhook, type WarmUp } from '../shared/pipeline/warm-webhook';
import { createTableLedger } from '../shared/state/table-ledger';
import { recordingTelemetry } from '../shared/telemetry';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { repoRoot } from './support/fixtures';
import { assertSubscribedWithHandshakes } from './support/relay-observations';

const quiet = createLogger({ level: 'error', write: () => {} });

/** A logger that keeps what it is told (the host's refusals), and writes nothing. */
function recordingLogger(): Logger & { entries: Array<{ message: string; fields: LogFields }> } {
  const entries: Array<{ message: string; fields: LogFields }> = [];
  const log = (message: string, fields: LogFields = {}) => void entries.push({ message, fields });
  const logger = { entries, debug: log, info: log, warn: log, error: log, withSecrets: () => logger, remember: () => undefined };
  return logger;
}

describe('warmUpWebhook: what an answer means', () => {
  let server: Server;
  let url: string;
  let answers: number[] = [];
  let requests = 0;

  before(async () => {
    server = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(answers.shift() ?? 200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/notifications`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const cases: Array<[string, number[], WarmUp, number]> = [
    ['200 is warm', [200], { state: 'warm' }, 1],
    ['403 is the front end refusing our address: no retry, and not "cold"', [403], { state: 'refused', status: 403 }, 1],
    ['401 is an instance that answered (up), not 200', [401], { state: 'answered', status: 401 }, 1],
    ['503 then 502 then 200: retried until warm', [503, 502, 200], { state: 'warm' }, 3],
    ['5xx on every attempt is silent', [500, 500, 500], { state: 'silent', detail: 'HTTP 500' }, 3],
  ];
  for (const [name, given, expected, calls] of cases) {
    it(name, async () => {
      answers = [...given];
      requests = 0;
      assert.deepEqual(await warmUpWebhook(url, 'auth-id-0123456789abcdef', 3, 0, 2000), expected);
      assert.equal(requests, calls);
    });
  }

  it('no answer at all is silent, named without the message', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const warmUp = await warmUpWebhook(`http://127.0.0.1:${port}/api/notifications?code=k3y`, 'auth-id-0123456789abcdef', 2, 0, 2000);
    assert.equal(warmUp.state, 'silent');
    assert.ok(warmUp.state === 'silent' && !warmUp.detail.includes('k3y'), JSON.stringify(warmUp));
  });

  it('warmWebhook (doctor\'s question) is true only for 200', async () => {
    answers = [403];
    assert.equal(await warmWebhook(url, 'auth-id-0123456789abcdef', 3, 0, 2000), false);
    answers = [200];
    assert.equal(await warmWebhook(url, 'auth-id-0123456789abcdef', 3, 0, 2000), true);
  });
});

describe('keepSubscriptions starts whatever the warm-up got', () => {
  let azurite: RunningAzurite;
  let table = 0;
  before(async () => {
    azurite = await startAzurite({ blob: false, queue: false, table: true });
  });
  after(async () => {
    await azurite?.close();
  });

  const tenant = '7c1f4a2e-5b3d-4e6f-9a8b-0c1d2e3f4a5b';
  const webhook = { address: 'https://relay.example/api/notifications', authId: 'auth-id-0123456789abcdef' };

  /** A feed with no subscriptions whose start of `failing` throws (one odd stream among good ones). */
  function feedFailing(failing: ContentType | undefined, started: ContentType[]): TenantFeed {
    return {
      tenantId: tenant,
      listSubscriptions: async () => [],
      startSubscription: async (contentType: ContentType) => {
        if (contentType === failing) throw Object.assign(new Error('Webhook validation failed (AF20021)'), { code: 'AF20021' });
        started.push(contentType);
        return { outcome: 'started' as const, subscription: { contentType, status: 'enabled', webhook: { ...webhook, status: 'enabled', expiration: null } } };
      },
    } as unknown as TenantFeed; // only the two calls ensureSubscription makes
  }

  async function keep(warmUp: WarmUp, failing?: ContentType) {
    const started: ContentType[] = [];
    let warmUps = 0;
    const telemetry = recordingTelemetry();
    const results: KeeperResult[] = await keepSubscriptions({
      ledger: createTableLedger({ connectionString: azurite.connectionString, tableName: `keeperwarmup${table++}` }),
      feed: () => feedFailing(failing, started),
      tenants: [{ tenantId: tenant, contentTypes: [...contentTypes] }],
      webhook,
      restartDisabled: false,
      warmWebhook: async () => {
        warmUps++;
        return warmUp;
      },
      now: () => new Date(),
      owner: 'keeper-warmup-test',
      logger: quiet,
      telemetry,
    });
    return { started, results, warmUps, events: telemetry.events };
  }

  const outcomes: WarmUp[] = [{ state: 'warm' }, { state: 'refused', status: 403 }, { state: 'answered', status: 401 }, { state: 'silent', detail: 'TimeoutError' }];
  for (const warmUp of outcomes) {
    it(`warm-up ${warmUp.state}: every stream started, the warm-up called once`, async () => {
      const { started, results, warmUps, events } = await keep(warmUp);
      assert.deepEqual(started, [...contentTypes]);
      assert.deepEqual(results.map((r) => r.outcome), contentTypes.map(() => 'started'));
      assert.equal(warmUps, 1);
      const reported = events.filter((e) => e.name === 'webhook.warmup');
      assert.deepEqual(reported.map((e) => e.properties?.state), warmUp.state === 'warm' ? [] : [warmUp.state]);
    });
  }

  it('a refused warm-up and one stream whose start fails: the others still start, the failure is reported', async () => {
    const failing = contentTypes[2]!;
    const { started, results } = await keep({ state: 'refused', status: 403 }, failing);
    assert.deepEqual(started, contentTypes.filter((c) => c !== failing));
    const failed = results.filter((r) => r.outcome === 'failed');
    assert.deepEqual(failed.map((r) => r.contentType), [failing]);
  });
});

describe('behind an inbound restriction (local host allows only 127.0.0.2, the simulator calls from there)', () => {
  let stack: LocalStack;
  const hostLog = recordingLogger();

  before(async () => {
    stack = await startLocalStack({
      port: 0,
      hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
      overrides: { O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', O365_LOG_LEVEL: 'error' },
      simulator: { webhookSourceAddress: '127.0.0.2', notifyRetryDelaysMs: [200, 400] },
      allowedSourceAddresses: ['127.0.0.2'],
      logger: hostLog,
    });
  });
  after(async () => {
    await stack?.close();
  });

  const refusals = () => hostLog.entries.filter((e) => e.message === 'request refused by the inbound allow-list');

  it('refuses a call from 127.0.0.1 with 403 before any function runs', async () => {
    const answer = await fetch(stack.settings.O365_WEBHOOK_URL!, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-authid': stack.settings.O365_WEBHOOK_AUTH_ID! }, body: '[]' });
    assert.equal(answer.status, 403);
    assert.deepEqual(refusals().map((e) => e.fields.source), ['127.0.0.1']);
  });

  it('the keeper starts every subscription: its own warm-up gets 403, the API\'s handshake from 127.0.0.2 passes', async () => {
    const before = refusals().length;
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 }); // the timer plans one o365-keep message per tenant
    // The app's warm-up reached the front end and was refused once (no retries on 403).
    const warmUps = refusals().slice(before);
    assert.deepEqual(warmUps.map((e) => [e.fields.source, e.fields.path]), [['127.0.0.1', '/api/notifications']]);
    assertSubscribedWithHandshakes(stack.simulator, stack.tenantId, stack.settings.O365_WEBHOOK_URL);
  });

  it('notifications from 127.0.0.2 get through to the queue', async () => {
    const content = await stack.simulator.publish(stack.tenantId, 'Audit.Exchange', [{ Id: 'a1', CreationTime: new Date().toISOString().slice(0, 19), Operation: 'MailItemsAccessed', OrganizationId: stack.tenantId, RecordType: 2, UserId: 'u@example.com', UserType: 0, Workload: 'Exchange' }]);
    await stack.simulator.flushNotifications();
    const delivered = stack.simulator.journal.filter((e) => e.direction === 'out' && e.headers['webhook-validationcode'] === undefined && e.status === 200);
    assert.ok(delivered.length >= 1, 'a notification POST was answered 200');
    assert.ok(content.contentId);
  });
});
