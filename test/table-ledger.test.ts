import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TableClient } from '@azure/data-tables';
import { DEV_ACCOUNT_KEY, startAzurite, type RunningAzurite } from '../dev/azurite';
import type { ContentMessage } from '../shared/pipeline/content-message';
import type { RefusedEntry } from '../shared/pipeline/ledger';
import { contentFromRow, contentPartition, contentRowKey, contentToRow, newContent } from '../shared/state/ledger-rows';
import { StateStoreError } from '../shared/state/store-error';
import { encodeKey } from '../shared/state/table-keys';
import { createTableLedger, type TableLedger } from '../shared/state/table-ledger';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const otherTenant = '0b7d2c11-4a3e-4f5b-9c8d-112233445566';
const realId = (n: number) => `20241125140000123${String(n).padStart(6, '0')}$20241125140000123${String(n).padStart(6, '0')}$audit_exchange$Audit_Exchange$emea0026`;

const message = (contentId: string, over: Partial<ContentMessage> = {}): ContentMessage => ({
  tenantId,
  contentType: 'Audit.Exchange',
  contentId,
  contentCreated: '2024-11-25T14:00:00.123Z',
  contentExpiration: '2024-12-02T14:00:00.123Z',
  waits: 0,
  ...over,
});
const keyOf = (m: ContentMessage) => ({ tenantId: m.tenantId, contentId: m.contentId });

let azurite: RunningAzurite;
let tables = 0;
/** Each test gets its own table, created by the ledger itself. */
function freshLedger(clock?: () => number): TableLedger {
  return createTableLedger({ connectionString: azurite.connectionString, tableName: `ledger${++tables}`, ...(clock ? { clock } : {}) });
}

before(async () => {
  azurite = await startAzurite({ blob: false, queue: false, table: true });
});
after(async () => {
  await azurite.close();
});

describe('table keys', () => {
  it('leaves the API alphabet readable and escapes everything a key forbids, one-to-one', () => {
    assert.equal(encodeKey(realId(1)), realId(1));
    for (const bad of ['a/b', 'a\\b', 'a#b', 'a?b', "a'b", 'a\u0000b', 'a\u007fb', 'a\u0085b', 'é', 'a~b']) {
      assert.doesNotMatch(encodeKey(bad), /[/\\#?'\u0000-\u001f\u007f-\u009f]/, bad);
    }
    assert.notEqual(encodeKey('a~2fb'), encodeKey('a/b'));
    assert.equal(encodeKey('a/b'), 'a~2fb');
    const long = '/'.repeat(1024);
    assert.ok(encodeKey(long).length < 100);
    assert.notEqual(encodeKey(long), encodeKey('/'.repeat(1023)));
  });

  it('row (de)serialisation round-trips an entry, progress and claim included', () => {
    const stored = newContent(message(realId(1)), 0);
    const entry = { ...stored.entry, claim: { owner: 'w1', until: 1_732_543_200_123 }, sinks: { blob: { accepted: 5, done: true } }, attempts: 2, detail: 'x' };
    const row = contentToRow({ ...stored, entry });
    // What the SDK hands back: Int64 as bigint, DateTime as Date.
    assert.deepEqual(contentFromRow(row), { entry, createdAt: new Date('2024-11-25T14:00:00.123Z') });
  });
});

describe('table ledger on Azurite', () => {
  it('creates its table when missing and answers get / known on an empty ledger', async () => {
    const ledger = freshLedger();
    assert.equal(await ledger.get({ tenantId, contentId: realId(1) }), undefined);
    assert.deepEqual(await ledger.known(tenantId, [realId(1)]), new Set());
    await ledger.ensureTable(); // idempotent
  });

  it('of 20 parallel claims on an unknown blob exactly one wins; the others see the claim as held', async () => {
    const ledger = freshLedger();
    const m = message(realId(2));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.claim(m, `worker-${i}`, 60_000, 1_000)));
    const claimed = results.filter((r) => r.kind === 'claimed');
    assert.equal(claimed.length, 1);
    assert.deepEqual(results.filter((r) => r.kind === 'held').map((r) => r.kind === 'held' && r.until), Array(19).fill(61_000));
    const entry = await ledger.get(keyOf(m));
    assert.equal(entry?.claim?.owner, claimed[0]?.kind === 'claimed' ? claimed[0].entry.claim?.owner : 'none');
    assert.equal(entry?.attempts, 1);
    assert.equal(entry?.state, 'enqueued');
  });

  it('of 20 parallel claims on a known blob whose claim expired exactly one wins', async () => {
    const ledger = freshLedger();
    const m = message(realId(3));
    assert.equal((await ledger.claim(m, 'crashed', 1_000, 0)).kind, 'claimed');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.claim(m, `worker-${i}`, 60_000, 5_000)));
    assert.equal(results.filter((r) => r.kind === 'claimed').length, 1);
    assert.equal(results.filter((r) => r.kind === 'held').length, 19);
    assert.equal((await ledger.get(keyOf(m)))?.attempts, 2);
  });

  it('a claim is a lease: held until it expires, then taken over; the old owner can no longer write', async () => {
    const ledger = freshLedger();
    const m = message(realId(4));
    const key = keyOf(m);
    const first = await ledger.claim(m, 'a', 500, 1_000);
    assert.equal(first.kind, 'claimed');
    assert.deepEqual(await ledger.claim(m, 'b', 500, 1_499), { kind: 'held', until: 1_500 });
    // Renewal moves the expiry; the same owner claiming again extends without counting an attempt.
    assert.equal(await ledger.renewClaim(key, 'a', 500, 1_400), true);
    assert.deepEqual(await ledger.claim(m, 'b', 500, 1_800), { kind: 'held', until: 1_900 });
    const again = await ledger.claim(m, 'a', 500, 1_850);
    assert.equal(again.kind === 'claimed' && again.entry.attempts, 1);
    // Expired: b takes over, a's writes are refused.
    const taken = await ledger.claim(m, 'b', 500, 2_400);
    assert.equal(taken.kind, 'claimed');
    assert.equal(taken.kind === 'claimed' && taken.entry.attempts, 2);
    assert.equal(await ledger.renewClaim(key, 'a', 500, 2_400), false);
    await assert.rejects(ledger.recordProgress(key, 'a', 'blob', { accepted: 1, done: false }), { name: 'StateStoreError', code: 'CLAIM_LOST', retryable: false });
    await assert.rejects(ledger.finish(key, 'a', 'delivered'), { code: 'CLAIM_LOST' });
    await ledger.release(key, 'a'); // not a's to release: nothing happens
    assert.equal((await ledger.get(key))?.claim?.owner, 'b');
    assert.equal(await ledger.renewClaim({ tenantId, contentId: 'unknown' }, 'b', 500, 2_400), false);
  });

  it('release lets another worker claim at once', async () => {
    const ledger = freshLedger();
    const m = message(realId(5));
    await ledger.claim(m, 'a', 60_000, 0);
    await ledger.release(keyOf(m), 'a');
    assert.equal((await ledger.get(keyOf(m)))?.claim, null);
    const next = await ledger.claim(m, 'b', 60_000, 1);
    assert.equal(next.kind, 'claimed');
  });

  it('per-sink progress round-trips and survives a takeover', async () => {
    const ledger = freshLedger();
    const m = message(realId(6));
    const key = keyOf(m);
    await ledger.claim(m, 'a', 1_000, 0);
    await ledger.recordProgress(key, 'a', 'blob', { accepted: 0, done: false });
    await ledger.recordProgress(key, 'a', 'syslog', { accepted: 1200, done: false });
    await ledger.recordProgress(key, 'a', 'blob', { accepted: 5000, done: true });
    assert.deepEqual((await ledger.get(key))?.sinks, { blob: { accepted: 5000, done: true }, syslog: { accepted: 1200, done: false } });
    const taken = await ledger.claim(m, 'b', 1_000, 5_000);
    assert.deepEqual(taken.kind === 'claimed' && taken.entry.sinks, { blob: { accepted: 5000, done: true }, syslog: { accepted: 1200, done: false } });
    await assert.rejects(ledger.recordProgress({ tenantId, contentId: 'nope' }, 'a', 'blob', { accepted: 1, done: true }), { code: 'NOT_FOUND' });
  });

  for (const state of ['delivered', 'expired', 'dead-lettered'] as const) {
    it(`finish(${state}) ends the story: the claim goes, the detail stays, a later claim answers finished`, async () => {
      const ledger = freshLedger();
      const m = message(realId(7));
      const key = keyOf(m);
      await ledger.claim(m, 'a', 1_000, 0);
      await ledger.finish(key, 'a', state, { detail: `because ${state}` });
      const entry = await ledger.get(key);
      assert.equal(entry?.state, state);
      assert.equal(entry?.claim, null);
      assert.equal(entry?.detail, `because ${state}`);
      const later = await ledger.claim(m, 'b', 1_000, 10);
      assert.equal(later.kind, 'finished');
      assert.equal(later.kind === 'finished' && later.entry.state, state);
      await ledger.finish(key, 'a', state); // a retried finish is not an error
      assert.equal((await ledger.get(key))?.detail, `because ${state}`);
    });
  }

  it('markSeen inserts only unknown blobs and returns them; known answers per tenant, odd ids included', async () => {
    const ledger = freshLedger();
    const odd = ['x/y', 'a\\b', 'q?#', "it's", 'ctl\u0001\u007f', 'é$€', '~7e', '/'.repeat(900)];
    const ids = [...Array.from({ length: 40 }, (_, i) => realId(100 + i)), ...odd];
    const first = ids.slice(0, 30).map((id) => message(id));
    const seen = await ledger.markSeen([...first, message(realId(100))]); // a duplicate inside one batch
    assert.deepEqual(seen.map((m) => m.contentId), first.map((m) => m.contentId));
    const second = await ledger.markSeen(ids.map((id) => message(id)));
    assert.deepEqual(second.map((m) => m.contentId), ids.slice(30));
    assert.deepEqual(await ledger.markSeen(ids.slice(0, 3).map((id) => message(id))), []);
    const asked = [...ids, 'never-seen', realId(999)];
    assert.deepEqual(await ledger.known(tenantId, asked), new Set(ids));
    assert.deepEqual(await ledger.known(otherTenant, asked), new Set());
    for (const id of odd) {
      const entry = await ledger.get({ tenantId, contentId: id });
      assert.equal(entry?.contentId, id);
      assert.equal(entry?.state, 'enqueued');
      assert.equal(entry?.claim, null);
      assert.equal(entry?.attempts, 0);
    }
  });

  it('markRefused records refused items once (insert-if-absent), finished for claims, counted per stream, purged with the rest', async () => {
    const ledger = freshLedger(() => Date.parse('2024-11-25T00:00:00Z'));
    const refused = (contentId: string, over: Partial<RefusedEntry> = {}): RefusedEntry => ({
      tenantId, contentType: 'Audit.Exchange', contentId, contentCreated: '2024-11-24T10:00:00', contentExpiration: '2024-12-01T10:00:00', reason: 'contentUri names another tenant', ...over,
    });
    const entries = [refused(realId(600)), refused('refused-0123456789abcdef', { contentCreated: '', contentExpiration: '', reason: 'not an object (null)' }), refused(realId(601), { contentType: 'DLP.All' })];
    assert.deepEqual(await ledger.markRefused([...entries, entries[0]!]), entries, 'a duplicate in one batch is recorded once');
    assert.deepEqual(await ledger.markRefused(entries), [], 'the overlap lists them again: no second record');
    // A blob the ledger knows already (enqueued) is not turned into a refused one.
    await ledger.markSeen([message(realId(602))]);
    assert.deepEqual(await ledger.markRefused([refused(realId(602))]), []);
    assert.equal((await ledger.get({ tenantId, contentId: realId(602) }))?.state, 'enqueued');

    const stored = await ledger.get({ tenantId, contentId: realId(600) });
    assert.deepEqual([stored?.state, stored?.detail, stored?.contentType], ['refused', 'contentUri names another tenant', 'Audit.Exchange']);
    assert.deepEqual(await ledger.known(tenantId, entries.map((e) => e.contentId)), new Set(entries.map((e) => e.contentId)));
    // A notification for the same id later: the worker's claim finds it finished and never fetches it.
    const claimed = await ledger.claim(message(realId(600)), 'w1', 60_000, 0);
    assert.equal(claimed.kind, 'finished');

    // Each stream row counts its new refusals (the overlap's second listing added none), with when the last was.
    const at = new Date('2024-11-25T00:00:00Z');
    const tally = async (t: string, contentType: 'Audit.Exchange' | 'DLP.All') => {
      const { refusedCount, lastRefusedAt } = await ledger.getStream(t, contentType);
      return { refusedCount, lastRefusedAt };
    };
    assert.deepEqual(await tally(tenantId, 'Audit.Exchange'), { refusedCount: 2, lastRefusedAt: at });
    assert.deepEqual(await tally(tenantId, 'DLP.All'), { refusedCount: 1, lastRefusedAt: at });
    assert.deepEqual(await tally(otherTenant, 'Audit.Exchange'), { refusedCount: undefined, lastRefusedAt: undefined });
    // Purge: the timed one by its contentCreated, the untimed one from first sight (the ledger's clock).
    assert.equal(await ledger.purge(new Date('2024-11-24T12:00:00Z')), 2);
    assert.deepEqual(await ledger.known(tenantId, entries.map((e) => e.contentId)), new Set(['refused-0123456789abcdef']));
  });

  it('reads every stream row of every tenant in one query; a corrupt row costs only itself', async () => {
    const ledger = freshLedger(() => Date.parse('2024-11-25T00:00:00Z'));
    const at = new Date('2024-11-25T10:00:00Z');
    const tenants = Array.from({ length: 6 }, (_, i) => `${i}e1a9b42-f5fb-49f0-ad1b-05d97491bc66`);
    for (const t of tenants) {
      await ledger.setCursor(t, 'Audit.Exchange', at);
      await ledger.setLastStart(t, 'DLP.All', at);
    }
    await ledger.markRefused([{ tenantId: tenants[1]!, contentType: 'DLP.All', contentId: realId(700), contentCreated: '', contentExpiration: '', reason: 'x' }]);
    // Rows of other kinds around them (content, purge index, lease) are not stream rows.
    await ledger.markSeen([message(realId(701))]);
    await ledger.acquireLease('keeper', 'w1', 60_000, 0);
    // One stream row corrupt (a cursor that is not a time), one whose own columns cannot say whose it is.
    const client = TableClient.fromConnectionString(azurite.connectionString, `ledger${tables}`, { allowInsecureConnection: true });
    await client.upsertEntity({ partitionKey: `stream:${encodeKey(tenants[2]!)}`, rowKey: 'Audit.Exchange', tenantId: tenants[2], contentType: 'Audit.Exchange', cursor: 'yesterday' }, 'Replace');
    await client.createEntity({ partitionKey: 'stream:nobody', rowKey: 'x', cursor: at });

    const { streams, odd } = await ledger.allStreams();
    const key = (s: { tenantId: string; contentType: string }) => `${s.tenantId}/${s.contentType}`;
    assert.equal(streams.length, 2 * tenants.length - 1, 'every good row read, the corrupt one apart');
    assert.ok(!streams.some((s) => key(s) === `${tenants[2]}/Audit.Exchange`));
    assert.deepEqual(streams.find((s) => key(s) === `${tenants[0]}/Audit.Exchange`), { tenantId: tenants[0], contentType: 'Audit.Exchange', cursor: at });
    assert.deepEqual(streams.find((s) => key(s) === `${tenants[1]}/DLP.All`), { tenantId: tenants[1], contentType: 'DLP.All', lastStart: at, refusedCount: 1, lastRefusedAt: new Date('2024-11-25T00:00:00Z') });
    assert.deepEqual(odd.map((o) => [o.key, o.tenantId, o.contentType]), [
      [`stream:${tenants[2]}/Audit.Exchange`, tenants[2], 'Audit.Exchange'],
      ['stream:nobody/x', undefined, undefined],
    ]);
    assert.match(odd[0]!.problem, /stream row has an unexpected shape \(cursor\)/);
    assert.match(odd[1]!.problem, /tenantId, contentType/);
  });

  it('cursors and last starts are kept per tenant and content type, without overwriting each other', async () => {
    const ledger = freshLedger();
    assert.equal(await ledger.getCursor(tenantId, 'Audit.Exchange'), undefined);
    assert.equal(await ledger.getLastStart(tenantId, 'Audit.Exchange'), undefined);
    const cursor = new Date('2024-11-25T13:00:00.000Z');
    const start = new Date('2024-11-20T08:30:00.000Z');
    await ledger.setCursor(tenantId, 'Audit.Exchange', cursor);
    await ledger.setLastStart(tenantId, 'Audit.Exchange', start);
    assert.deepEqual(await ledger.getCursor(tenantId, 'Audit.Exchange'), cursor);
    assert.deepEqual(await ledger.getLastStart(tenantId, 'Audit.Exchange'), start);
    assert.equal(await ledger.getCursor(tenantId, 'DLP.All'), undefined);
    assert.equal(await ledger.getCursor(otherTenant, 'Audit.Exchange'), undefined);
    const later = new Date('2024-11-25T14:00:00.000Z');
    await Promise.all([ledger.setCursor(tenantId, 'Audit.Exchange', later), ledger.setLastStart(tenantId, 'Audit.Exchange', later)]);
    assert.deepEqual(await ledger.getCursor(tenantId, 'Audit.Exchange'), later);
    assert.deepEqual(await ledger.getLastStart(tenantId, 'Audit.Exchange'), later);
  });

  it('named leases: one holder at a time, taken over after expiry, released only by the holder', async () => {
    const ledger = freshLedger();
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.acquireLease('subscription-keeper', `k${i}`, 1_000, 0)));
    assert.equal(got.filter(Boolean).length, 1);
    const holder = `k${got.indexOf(true)}`;
    const other = holder === 'k0' ? 'k1' : 'k0';
    assert.equal(await ledger.acquireLease('subscription-keeper', holder, 1_000, 500), true); // renewal
    assert.equal(await ledger.acquireLease('subscription-keeper', other, 1_000, 1_200), false);
    assert.equal(await ledger.acquireLease('another/lease?', other, 1_000, 1_200), true); // names are independent
    await ledger.releaseLease('subscription-keeper', other); // not the holder: no effect
    assert.equal(await ledger.acquireLease('subscription-keeper', other, 1_000, 1_400), false);
    assert.equal(await ledger.acquireLease('subscription-keeper', other, 1_000, 1_500), true); // expired at 1_500
    await ledger.releaseLease('subscription-keeper', other);
    assert.equal(await ledger.acquireLease('subscription-keeper', holder, 1_000, 1_501), true);
  });

  it('purge deletes content entries created before the cut and nothing else', async () => {
    const ledger = freshLedger(() => Date.parse('2024-11-25T00:00:00Z'));
    const old = ['2024-11-10T00:00:00Z', '2024-11-17T23:59:59.999Z'].map((at, i) => message(realId(200 + i), { contentCreated: at }));
    const recent = ['2024-11-18T00:00:00Z', '2024-11-25T10:00:00Z'].map((at, i) => message(realId(300 + i), { contentCreated: at }));
    // Unparsable contentCreated: counted from the ledger's clock (2024-11-25), so it is kept.
    const odd = message(realId(400), { contentCreated: 'not a date' });
    await ledger.markSeen([...old, ...recent, odd, message(realId(500), { tenantId: otherTenant, contentCreated: '2024-11-01T00:00:00Z' })]);
    await ledger.setCursor(tenantId, 'Audit.Exchange', new Date('2024-11-01T00:00:00Z'));
    assert.equal(await ledger.acquireLease('keeper', 'k', 1_000, 0), true);
    assert.equal(await ledger.purge(new Date('2024-11-18T00:00:00Z')), 3);
    assert.deepEqual(await ledger.known(tenantId, [...old, ...recent, odd].map((m) => m.contentId)), new Set([...recent, odd].map((m) => m.contentId)));
    assert.deepEqual(await ledger.known(otherTenant, [realId(500)]), new Set());
    assert.deepEqual(await ledger.getCursor(tenantId, 'Audit.Exchange'), new Date('2024-11-01T00:00:00Z'));
    assert.equal(await ledger.acquireLease('keeper', 'other', 1_000, 10), false);
    assert.equal(await ledger.purge(new Date('2024-11-18T00:00:00Z')), 0);
  });

  it('a row of the wrong shape is reported as STATE_CORRUPT, not misread', async () => {
    const tableName = `ledger${++tables}`;
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName });
    await ledger.ensureTable();
    const raw = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
    const m = message(realId(600));
    await raw.createEntity({ ...contentToRow(newContent(m, 0)), state: 'weird' });
    await assert.rejects(ledger.get(keyOf(m)), (err: unknown) => err instanceof StateStoreError && err.code === 'STATE_CORRUPT' && !err.retryable);
  });
});

describe('table ledger failures', () => {
  it('a table deleted under the ledger is a retryable failure, and the next call creates it again', async () => {
    const tableName = `ledger${++tables}`;
    const ledger = createTableLedger({ connectionString: azurite.connectionString, tableName });
    const m = message(realId(700));
    await ledger.markSeen([m]);
    await TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true }).deleteTable();
    // Not mistaken for a missing row: a claim must not "create" an entry in a table that is not there.
    await assert.rejects(ledger.claim(m, 'a', 1_000, 0), { name: 'StateStoreError', code: 'STATE_UNAVAILABLE', retryable: true, message: /TableNotFound/ });
    assert.equal(await ledger.get(keyOf(m)), undefined);
    assert.equal((await ledger.claim(m, 'a', 1_000, 0)).kind, 'claimed');
  });

  it('an unreachable store is retryable STATE_UNAVAILABLE, and the message names no secret', async () => {
    const down = await startAzurite({ blob: false, queue: false, table: true });
    const connectionString = down.connectionString;
    await down.close();
    const table = TableClient.fromConnectionString(connectionString, 'ledger', { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    const ledger = createTableLedger({ tableClient: table });
    await assert.rejects(ledger.claim(message(realId(1)), 'a', 1_000, 0), (err: unknown) => {
      assert.ok(err instanceof StateStoreError);
      assert.equal(err.code, 'STATE_UNAVAILABLE');
      assert.equal(err.retryable, true);
      assert.doesNotMatch(err.message, /AccountKey|Eby8vdM02x|http:/);
      return true;
    });
  });

  it('a wrong account key is STATE_UNAUTHORIZED and not retryable', async () => {
    const wrongKey = Buffer.from('not the key, not the key, not the key!!').toString('base64');
    const connectionString = azurite.connectionString.replace(DEV_ACCOUNT_KEY, wrongKey);
    const ledger = createTableLedger({ connectionString, tableName: 'ledgerauth' });
    await assert.rejects(ledger.get({ tenantId, contentId: realId(1) }), (err: unknown) => {
      assert.ok(err instanceof StateStoreError);
      assert.equal(err.code, 'STATE_UNAUTHORIZED');
      assert.equal(err.retryable, false);
      assert.equal(err.status, 403);
      assert.ok(!err.message.includes(wrongKey));
      return true;
    });
  });

  it('an unparsable connection string is refused without quoting it', () => {
    assert.throws(() => createTableLedger({ connectionString: 'AccountKey=s3cr3t-value;nonsense' }), (err: unknown) =>
      err instanceof StateStoreError && err.code === 'STATE_REJECTED' && !err.message.includes('s3cr3t'));
  });
});

describe('purge by tenant and day, and the keeper\'s subscription state (Azurite)', () => {
  /** A table client that notes each storage request the ledger makes (method, and the filter of a query). */
  function countingLedger(clock: () => number) {
    const tableName = `ledger${++tables}`;
    const raw = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
    const calls: Array<{ method: string; filter?: string | undefined; actions?: number }> = [];
    const tableClient = new Proxy(raw, {
      get(target, name, receiver) {
        const value: unknown = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const method = String(name);
          const filter = method === 'listEntities' ? (args[0] as { queryOptions?: { filter?: string } } | undefined)?.queryOptions?.filter : undefined;
          const actions = method === 'submitTransaction' ? (args[0] as unknown[]).length : undefined;
          calls.push({ method, filter, ...(actions === undefined ? {} : { actions }) });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return { ledger: createTableLedger({ tableClient, clock }), calls };
  }
  const at = (day: string, n: number) => `${day}T${String(Math.floor(n / 60) % 24).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:00.000Z`;

  it('deletes a tenant\'s day in transactions of at most 100, at most maxRows per call, never reading content rows by time', async () => {
    const { ledger, calls } = countingLedger(() => Date.parse('2024-11-25T00:00:00Z'));
    const oldA = Array.from({ length: 250 }, (_, i) => message(realId(1000 + i), { contentCreated: at('2024-11-10', i) }));
    const oldB = Array.from({ length: 30 }, (_, i) => message(realId(2000 + i), { tenantId: otherTenant, contentCreated: at('2024-11-11', i) }));
    const recent = Array.from({ length: 40 }, (_, i) => message(realId(3000 + i), { contentCreated: at('2024-11-20', i) }));
    // The cut's own day: before the cut goes, after it stays.
    const cutDay = [message(realId(4000), { contentCreated: '2024-11-18T05:00:00Z' }), message(realId(4001), { contentCreated: '2024-11-18T07:00:00Z' })];
    await ledger.markSeen([...oldA, ...recent, cutDay[0]!, cutDay[1]!]);
    await ledger.markSeen(oldB);
    const writes = calls.filter((c) => c.method === 'submitTransaction');
    assert.ok(writes.every((c) => (c.actions ?? 0) <= 100), 'index rows go in transactions of at most 100');

    calls.length = 0;
    const cut = new Date('2024-11-18T06:00:00Z');
    assert.equal(await ledger.purge(cut, { maxRows: 120 }), 120, 'bounded per call');
    assert.equal(await ledger.purge(cut, { maxRows: 1_000 }), 250 + 30 + 1 - 120);
    assert.equal(await ledger.purge(cut), 0);
    const queries = calls.filter((c) => c.method === 'listEntities');
    assert.ok(queries.length > 0 && queries.every((c) => c.filter?.startsWith("PartitionKey ge 'expiry:' and PartitionKey lt 'expiry:2024-11-18;'")), 'only the purge index, up to the cut\'s day');
    const deletes = calls.filter((c) => c.method === 'submitTransaction');
    assert.ok(deletes.every((c) => (c.actions ?? 0) <= 100));
    // Per page of ≤ 100 index rows: one content and one index transaction, one more per extra partition a page spans
    // (four pages: the maxRows cut adds one; three more partitions: tenant B's day and the cut's day).
    assert.ok(deletes.length <= 2 * (Math.ceil(281 / 100) + 1) + 3, `${deletes.length} transactions for 281 rows`);
    assert.equal(calls.filter((c) => c.method === 'deleteEntity').length, 0, 'no row-by-row deletes');

    const allIds = [...oldA, ...recent, ...cutDay].map((m) => m.contentId);
    assert.deepEqual(await ledger.known(tenantId, allIds), new Set([...recent, cutDay[1]!].map((m) => m.contentId)));
    assert.deepEqual(await ledger.known(otherTenant, oldB.map((m) => m.contentId)), new Set());
  });

  it('an id seen again with another contentCreated keeps the stored row\'s day (never purged early); a claim-created row is indexed', async () => {
    const { ledger } = countingLedger(() => Date.parse('2024-11-25T00:00:00Z'));
    const first = message(realId(5000), { contentCreated: '2024-11-20T10:00:00Z' });
    await ledger.markSeen([first]);
    assert.deepEqual(await ledger.markSeen([{ ...first, contentCreated: '2024-11-05T10:00:00Z' }]), []);
    assert.deepEqual(await ledger.markRefused([{ ...keyOf(first), contentType: 'Audit.Exchange', contentCreated: '2024-11-06T10:00:00Z', contentExpiration: '', reason: 'x' }]), []);
    assert.equal(await ledger.purge(new Date('2024-11-15T00:00:00Z')), 0);
    assert.equal((await ledger.get(keyOf(first)))?.state, 'enqueued');
    const claimed = message(realId(5001), { contentCreated: '2024-11-05T10:00:00Z' });
    assert.equal((await ledger.claim(claimed, 'w', 1_000, 0)).kind, 'claimed');
    assert.equal(await ledger.purge(new Date('2024-11-15T00:00:00Z')), 1);
    assert.equal(await ledger.get(keyOf(claimed)), undefined);
    assert.equal(await ledger.purge(new Date('2024-11-21T00:00:00Z')), 1, 'purged on its own day');
  });

  it('stores each tenant\'s subscription state whole and reads every tenant\'s in one query; an odd row is reported, not misread', async () => {
    const { ledger, calls } = countingLedger(Date.now);
    assert.deepEqual(await ledger.subscriptionSnapshots(), new Map());
    const checkedAt = new Date('2024-11-25T10:00:00.000Z');
    const a = { tenantId, checkedAt, streams: { 'Audit.Exchange': { status: 'enabled', webhookStatus: 'enabled', webhookAddress: 'https://relay.example/api/notifications' } } };
    await ledger.setSubscriptionSnapshot(a);
    await ledger.setSubscriptionSnapshot({ tenantId: otherTenant, checkedAt, streams: {} });
    const later = { ...a, checkedAt: new Date('2024-11-25T11:00:00.000Z'), streams: { 'DLP.All': { status: 'disabled', webhookStatus: null, webhookAddress: null } } };
    await ledger.setSubscriptionSnapshot(later);
    calls.length = 0;
    const stored = await ledger.subscriptionSnapshots();
    assert.deepEqual(stored.get(tenantId), later, 'replaced whole, not merged');
    assert.deepEqual(stored.get(otherTenant)?.streams, {});
    assert.equal(calls.filter((c) => c.method === 'listEntities').length, 1);
  });
});

describe('rows remembered with their ETags (row-memory.ts)', () => {
  /** A real TableClient whose reads and writes are counted. */
  function countedLedger(tableName: string) {
    const client = TableClient.fromConnectionString(azurite.connectionString, tableName, { allowInsecureConnection: true });
    const counts = { reads: 0, writes: 0 };
    const getEntity = client.getEntity.bind(client);
    const updateEntity = client.updateEntity.bind(client);
    client.getEntity = ((...args: Parameters<typeof getEntity>) => (counts.reads++, getEntity(...args))) as typeof client.getEntity;
    client.updateEntity = ((...args: Parameters<typeof updateEntity>) => (counts.writes++, updateEntity(...args))) as typeof client.updateEntity;
    return { ledger: createTableLedger({ tableClient: client }), counts };
  }

  it('a worker reads a blob once: its progress and finish write under the ETag it last wrote', async () => {
    const table = `memory${++tables}`;
    const reconciler = createTableLedger({ connectionString: azurite.connectionString, tableName: table });
    const m = message(realId(1));
    await reconciler.markSeen([m]); // another instance inserted the row
    const { ledger, counts } = countedLedger(table);
    assert.equal((await ledger.claim(m, 'w1', 60_000, 1000)).kind, 'claimed');
    await ledger.recordProgress(keyOf(m), 'w1', 'blob', { accepted: 5, done: false });
    await ledger.recordProgress(keyOf(m), 'w1', 'blob', { accepted: 5, done: true });
    await ledger.finish(keyOf(m), 'w1', 'delivered');
    assert.deepEqual(counts, { reads: 1, writes: 4 });
    const entry = await reconciler.get(keyOf(m));
    assert.equal(entry?.state, 'delivered');
    assert.deepEqual(entry?.sinks, { blob: { accepted: 5, done: true } });
  });

  it('a remembered row changed elsewhere costs one 412 and a read, and the change is kept', async () => {
    const table = `memory${++tables}`;
    const other = createTableLedger({ connectionString: azurite.connectionString, tableName: table });
    const { ledger, counts } = countedLedger(table);
    const m = message(realId(2));
    assert.equal((await ledger.claim(m, 'w1', 60_000, 1000)).kind, 'claimed');
    await other.known(tenantId, [m.contentId]);
    assert.equal(await other.markListed(tenantId, [m.contentId]), 1); // an unguarded Merge: a new ETag
    counts.reads = 0;
    counts.writes = 0;
    await ledger.recordProgress(keyOf(m), 'w1', 'blob', { accepted: 3, done: false });
    assert.deepEqual(counts, { reads: 1, writes: 2 }); // the 412, then read and write
    const entry = await other.get(keyOf(m));
    assert.equal(entry?.listed, true);
    assert.deepEqual(entry?.sinks, { blob: { accepted: 3, done: false } });
  });

  it('never answers from memory alone: a row it remembers as finished but that was purged and seen again is claimed', async () => {
    const table = `memory${++tables}`;
    const other = createTableLedger({ connectionString: azurite.connectionString, tableName: table });
    const { ledger } = countedLedger(table);
    const m = message(realId(3));
    assert.equal((await ledger.claim(m, 'w1', 60_000, 1000)).kind, 'claimed');
    await ledger.finish(keyOf(m), 'w1', 'delivered'); // remembered as finished
    const client = TableClient.fromConnectionString(azurite.connectionString, table, { allowInsecureConnection: true });
    const stored = await client.getEntity(contentPartition(tenantId), contentRowKey(m.contentId));
    await client.deleteEntity(stored.partitionKey!, stored.rowKey!);
    await other.markSeen([m]);
    const again = await ledger.claim(m, 'w2', 60_000, 2000);
    assert.equal(again.kind, 'claimed');
  });
});
