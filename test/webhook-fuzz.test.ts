// The webhook under 10,000 generated requests through the real local host (the built bundle), Azurite and the
// simulator: broken JSON, wrong types, huge and unicode values, forged authIds and forged contentUris (other hosts,
// ports, tenants, schemes, parser tricks). Every request is answered as the contract says, nothing crashes, no forged
// item reaches the queue, and no request goes to another host.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { contentQueueName } from '../shared/state/content-queue';
import { repoRoot } from './support/fixtures';
import { queueLength } from './support/relay-observations';
import { byProfile } from './support/suite-profile';

const requests = Number(process.env.WEBHOOK_FUZZ_REQUESTS ?? byProfile({ ci: 10_000, long: 30_000 }));
let stack: LocalStack;
let decoy: Server;
let decoyHits = 0;
let decoyOrigin = '';

before(async () => {
  decoy = createServer((_req, res) => {
    decoyHits++;
    res.end('[]');
  });
  await new Promise<void>((resolve) => decoy.listen(0, '127.0.0.1', resolve));
  decoyOrigin = `http://127.0.0.1:${(decoy.address() as AddressInfo).port}`;
  stack = await startLocalStack({ port: 0, hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'), overrides: { O365_LOG_LEVEL: 'error' } });
});
after(async () => {
  await stack?.close();
  await new Promise((resolve) => decoy.close(resolve));
});

describe('webhook fuzz through the local host', () => {
  it(`answers ${requests} generated requests per the contract and queues no forged item`, async (t) => {
    const authId = stack.settings.O365_WEBHOOK_AUTH_ID!;
    const tenant = stack.tenantId;
    const api = stack.simulator.baseUrl;
    const good = { tenantId: tenant, clientId: stack.settings.O365_CLIENT_ID!, contentType: 'Audit.Exchange', contentId: 'fuzz$0001', contentCreated: '2026-11-25T10:00:00.000Z', contentExpiration: '2099-12-02T10:00:00.000Z' };
    const feed = (origin: string, t = tenant) => `${origin}/api/v1.0/${t}/activity/feed/audit/${good.contentId}`;
    // Every contentUri here is forged, so no item may ever be queued.
    const forgedUri = fc.constantFrom(
      feed(decoyOrigin),
      feed(api.replace('127.0.0.1', '127.0.0.1.')),
      feed(api.replace('https://', 'http://')),
      feed(api.replace(/:(\d+)$/, (_m, p: string) => `:${Number(p) + 1}`)),
      feed(api.replace('https://', 'https://user@')),
      feed(api, '11111111-1111-1111-1111-111111111111'),
      `${api}/api/v1.0/${tenant}/activity/feed/audit/..%2F..%2Fsubscriptions%2Flist`,
      `${api}\\@evil.example/api/v1.0/${tenant}/activity/feed/audit/${good.contentId}`,
      `${feed(api)}#fragment`,
      `${feed(api)}?next=${encodeURIComponent(decoyOrigin)}`,
      'javascript:alert(1)',
      '',
    );
    // Huge arrays of forged items, made once: ~1.5 MB (under the body limit: each item refused, none queued) and ~6 MB (413).
    const hugeArrays = [5_000, 20_000].map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ ...good, contentId: `fuzz$${i}`, contentUri: feed(decoyOrigin) }))));
    const item = fc.record({
      tenantId: fc.oneof(fc.constant(tenant), fc.uuid(), fc.string()),
      clientId: fc.oneof(fc.constant(good.clientId), fc.string()),
      contentType: fc.oneof(fc.constant('Audit.Exchange'), fc.string()),
      contentId: fc.oneof(fc.constant(good.contentId), fc.string({ unit: 'binary' })),
      contentUri: fc.oneof(forgedUri, fc.webUrl(), fc.string({ unit: 'binary' })),
      contentCreated: fc.oneof(fc.constant(good.contentCreated), fc.string()),
      contentExpiration: fc.oneof(fc.constant(good.contentExpiration), fc.integer()),
    }, { requiredKeys: [] });
    const body = fc.oneof(
      { weight: 5, arbitrary: fc.array(fc.oneof(item, fc.jsonValue({ maxDepth: 2 })), { maxLength: 30 }).map((v) => JSON.stringify(v)) },
      { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.constantFrom('{"validationCode":"x"}', '[', '{"a":', '\u0000\u202e', JSON.stringify(['x'.repeat(100_000)]), ...hugeArrays) },
    );
    const auth = fc.oneof({ weight: 6, arbitrary: fc.constant(authId) }, { weight: 1, arbitrary: fc.constantFrom('', authId + 'x', authId.toUpperCase(), 'wrong') });
    const samples = fc.sample(fc.tuple(body, auth), { numRuns: requests, seed: 20261125 });

    const counts = new Map<number, number>();
    const began = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < samples.length) {
        const [text, id] = samples[next++]!;
        const answer = await fetch(`${stack.host.url}/api/notifications`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(id === '' ? {} : { 'Webhook-AuthID': id }) }, body: text });
        const payload = (await answer.json()) as Record<string, unknown>;
        assert.ok([200, 400, 401, 413].includes(answer.status), `status ${answer.status} for ${text.slice(0, 80)}`);
        if (id !== authId) assert.equal(answer.status, 401);
        if (answer.status === 200) assert.equal(payload.accepted ?? 0, 0, `a forged item was accepted: ${text.slice(0, 200)}`);
        counts.set(answer.status, (counts.get(answer.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const answers = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([status, n]) => `${status}: ${n}`).join(', ');
    t.diagnostic(`webhook fuzz: ${requests} requests in ${((performance.now() - began) / 1000).toFixed(1)} s from 8 senders; answers ${answers}; forged items queued 0, content fetched 0, decoy host contacted 0`);

    assert.equal([...counts.values()].reduce((a, b) => a + b, 0), requests);
    assert.equal(decoyHits, 0, 'no request reached another host');
    const downloads = stack.simulator.journal.filter((e) => e.direction === 'in' && e.method === 'GET' && e.path.includes('/activity/feed/audit/'));
    assert.equal(downloads.length, 0, 'nothing was fetched');
    assert.equal(await queueLength(stack.azurite.connectionString, contentQueueName), 0, 'nothing was queued');
  });
});
