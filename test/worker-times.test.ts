// The worker's side of the API's times: the queue message's times are validated with the one parser (ApiTime), a
// message with a bad time is refused with a clear error before anything is claimed (the host then poisons it,
// where health counts it), and no path can produce a NaN re-enqueue delay.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { QueueClient } from '@azure/storage-queue';
import { ContentMessage, ContentMessageError, contentMessageTimes } from '../shared/pipeline/content-message';
import type { Ledger } from '../shared/pipeline/ledger';
import { processContent } from '../shared/pipeline/process-content';
import { waitDelay } from '../shared/pipeline/wait-delay';
import { createContentQueue } from '../shared/state/content-queue';
import { workerDeps } from './support/worker-deps';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const good = {
  tenantId,
  contentType: 'Audit.Exchange',
  contentId: '20261125000000000000001$x$audit_exchange$Audit_Exchange$na0034',
  contentCreated: '2026-11-25T10:00:00.000Z',
  contentExpiration: '2026-12-02T10:00:00.000Z',
};
const badTimes = ['', 'tomorrow', '1 2 3', 'March 7, 2026', '2026-02-30T00:00:00Z', '2026-11-25 10:00', 'NaN', '2026-11-25T25:00:00Z'];

/** A ledger the test must never reach: a bad message is refused before the claim. */
const untouchable = new Proxy({} as Ledger, {
  get: (_target, name) => () => {
    throw new Error(`the ledger was used (${String(name)})`);
  },
});

describe('content message times', () => {
  it('the schema takes API times (with or without a zone, up to 7 fractional digits) and refuses anything else, naming the field', () => {
    assert.ok(ContentMessage.safeParse(good).success);
    assert.ok(ContentMessage.safeParse({ ...good, contentCreated: '2026-11-25T10:00:00.1234567', contentExpiration: '2026-12-02T10:00:00' }).success);
    for (const field of ['contentCreated', 'contentExpiration'] as const) {
      for (const text of badTimes) {
        const parsed = ContentMessage.safeParse({ ...good, [field]: text });
        assert.equal(parsed.success, false, `${field}: ${text}`);
        assert.deepEqual(parsed.error?.issues.map((i) => i.path.join('.')), [field]);
      }
    }
  });

  it('a message that bypassed the schema with a bad time is refused before any claim, never a NaN delay', async () => {
    for (const text of badTimes) {
      const message = { ...good, contentType: 'Audit.Exchange' as const, contentExpiration: text, waits: 2 };
      await assert.rejects(processContent(message, workerDeps({ ledger: untouchable })), (err: unknown) => {
        assert.ok(err instanceof ContentMessageError, String(err));
        assert.equal(err.retryable, false);
        assert.match(err.message, /contentExpiration is not an ISO 8601 date-time/);
        return true;
      });
    }
    assert.throws(() => contentMessageTimes({ contentCreated: 'x', contentExpiration: 'y' }), /contentCreated, contentExpiration/);
  });

  it('waitDelay is a finite delay for any finite input, and refuses NaN instead of passing it on', () => {
    fc.assert(
      fc.property(fc.nat({ max: 100 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: -1e13, max: 1e13, noNaN: true }), (waits, r, until) => {
        const delay = waitDelay(waits, () => r, until);
        assert.ok(Number.isFinite(delay) && delay >= 1000);
      }),
    );
    assert.throws(() => waitDelay(0, () => 0.5, Number.NaN), RangeError);
  });

  it('requeue refuses a delay that is not a number instead of sending a NaN visibility timeout', async () => {
    const sent: unknown[] = [];
    // Why the cast: only sendMessage is used by requeue.
    const fakeQueue = { sendMessage: async (...args: unknown[]) => void sent.push(args) } as unknown as QueueClient;
    const queue = createContentQueue(() => fakeQueue);
    const message = ContentMessage.parse(good);
    await assert.rejects(queue.requeue(message, Number.NaN), RangeError);
    assert.equal(sent.length, 0);
    await queue.requeue(message, 90_000);
    assert.equal((sent[0] as [string, { visibilityTimeout: number }])[1].visibilityTimeout, 90);
  });
});
