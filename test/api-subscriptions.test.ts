// Subscription answers keep the webhook authId as a Secret (never printed), and ensureSubscription's decisions.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import type { StartOutcome, TenantFeed } from '../shared/api/client';
import { apiError } from '../shared/api/errors';
import { Subscription, SubscriptionList } from '../shared/api/schemas';
import { Secret } from '../shared/api/secret';
import { ensureSubscription } from '../shared/api/subscriptions';
import { createLogger } from '../shared/log';
import { readFixture } from './support/fixtures';

const authId = 'contoso-o365-webhook-7Q2vX9';

describe('subscription answers', () => {
  const fixture = readFixture<{ response: { body: unknown } }>('notifications', 'subscriptions-list.json');
  const list = SubscriptionList.parse(fixture.response.body);

  it('parses the documented list, including an entry without status and null webhooks', () => {
    assert.equal(list.length, 5);
    assert.equal(list.find((s) => s.contentType === 'DLP.All')?.status, undefined);
    assert.equal(list.find((s) => s.contentType === 'Audit.General')?.webhook, null);
    assert.equal(list[0]!.webhook?.authId?.reveal(), authId);
  });

  it('never prints the authId: JSON, inspect, template strings and the logger all redact it', () => {
    const lines: string[] = [];
    createLogger({ write: (l) => lines.push(l) }).info('subscriptions', { list });
    for (const text of [JSON.stringify(list), inspect(list, { depth: 10 }), `${list[0]!.webhook?.authId}`, lines.join('\n')]) {
      assert.ok(!text.includes(authId), text);
      assert.ok(text.includes('[redacted]'));
    }
  });

  it('accepts a start answer with an empty authId as none', () => {
    const s = Subscription.parse({ contentType: 'Audit.Exchange', status: 'enabled', webhook: { status: 'enabled', address: 'https://x', authId: '', expiration: null } });
    assert.equal(s.webhook?.authId, null);
  });
});

/** A TenantFeed that records starts and answers list from a table. */
function fakeFeed(subscriptions: Subscription[], startAnswer: 'started' | 'AF20024' = 'started') {
  const starts: string[] = [];
  const feed = {
    tenantId: 't',
    listSubscriptions: async () => subscriptions,
    startSubscription: async (contentType: string): Promise<StartOutcome> => {
      starts.push(contentType);
      if (startAnswer === 'AF20024') return { outcome: 'already-enabled', subscription: null };
      return { outcome: 'started', subscription: { contentType, status: 'enabled', webhook: null } };
    },
  } as unknown as TenantFeed; // only the two methods ensureSubscription uses
  return { feed, starts };
}

const sub = (status: string | undefined, webhook: Subscription['webhook'] = null): Subscription => ({ contentType: 'Audit.Exchange', ...(status ? { status } : {}), webhook });
const hook = { address: 'https://relay.example/api/o365/notify', authId };

describe('ensureSubscription', () => {
  it('starts once when there is none', async () => {
    const { feed, starts } = fakeFeed([]);
    assert.equal((await ensureSubscription(feed, 'Audit.Exchange', { restartDisabled: false })).state, 'started');
    assert.deepEqual(starts, ['Audit.Exchange']);
  });
  it('leaves an enabled one (also one listed without status) alone', async () => {
    for (const status of ['enabled', undefined]) {
      const { feed, starts } = fakeFeed([sub(status)]);
      assert.equal((await ensureSubscription(feed, 'Audit.Exchange', { restartDisabled: false })).state, 'enabled');
      assert.deepEqual(starts, []);
    }
  });
  it('reports a disabled one and restarts it only when opted in', async () => {
    const off = fakeFeed([sub('disabled')]);
    assert.equal((await ensureSubscription(off.feed, 'Audit.Exchange', { restartDisabled: false })).state, 'disabled');
    assert.deepEqual(off.starts, []);
    const on = fakeFeed([sub('disabled')]);
    assert.equal((await ensureSubscription(on.feed, 'Audit.Exchange', { restartDisabled: true })).state, 'restarted');
    assert.deepEqual(on.starts, ['Audit.Exchange']);
  });
  it('updates the webhook when it is missing, disabled, expired, elsewhere or has another authId', async () => {
    const same = { status: 'enabled', address: hook.address, authId: new Secret(authId), expiration: null };
    const cases: Array<[Subscription['webhook'], string]> = [
      [null, 'webhook-updated'],
      [{ ...same, status: 'disabled' }, 'webhook-updated'],
      [{ ...same, status: 'expired' }, 'webhook-updated'],
      [{ ...same, address: 'https://old.example/notify' }, 'webhook-updated'],
      [{ ...same, authId: new Secret('rotated') }, 'webhook-updated'],
      [same, 'enabled'],
    ];
    for (const [webhook, state] of cases) {
      const { feed } = fakeFeed([sub('enabled', webhook)]);
      assert.equal((await ensureSubscription(feed, 'Audit.Exchange', { restartDisabled: false, webhook: hook })).state, state);
    }
  });
  it('counts AF20024 from start as success', async () => {
    const { feed } = fakeFeed([], 'AF20024');
    assert.deepEqual(await ensureSubscription(feed, 'Audit.Exchange', { restartDisabled: false }), { state: 'started', changed: true, subscription: null });
  });
  it('lets typed errors from listing through', async () => {
    const feed = { tenantId: 't', listSubscriptions: async () => { throw apiError('AF10001'); } } as unknown as TenantFeed; // only listSubscriptions is reached
    await assert.rejects(ensureSubscription(feed, 'Audit.Exchange', { restartDisabled: false }), (e: unknown) => (e as { code?: string }).code === 'AF10001');
  });
});
