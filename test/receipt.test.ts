// The completeness receipt's rules as pure functions: verdict, finality, grouping by UTC day, and each format
// (CSV escaping, HTML self-contained, JSON by its zod schema).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ContentEntry } from '../shared/pipeline/ledger';
import { buildReceipt, daysBetween, finalDayReceipts, isFinal, reachedEverySink, Receipt, streamKey, verdictOf, worstVerdict, type ReceiptBlob } from '../shared/pipeline/receipt';
import { csvField, formatReceipt, ReceiptOutput } from '../shared/pipeline/receipt-formats';
import { contentFromRow, contentToRow, decideClaim, newContent } from '../shared/state/ledger-rows';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
let n = 0;
function blob(day: string, changes: Partial<ContentEntry> = {}): ReceiptBlob {
  const contentCreated = `${day}T10:00:00.000Z`;
  return {
    createdAt: new Date(contentCreated),
    entry: {
      tenantId, contentId: `c${n++}`, contentType: 'Audit.Exchange', contentCreated, contentExpiration: contentCreated,
      state: 'delivered', claim: null, attempts: 1, listed: true, notified: true,
      sinks: { archive: { accepted: 10, done: true }, siem: { accepted: 10, done: true } },
      tally: { targets: ['archive', 'siem'], records: 12, filtered: 2 },
      ...changes,
    },
  };
}
const at = (iso: string) => new Date(iso);

describe('finality', () => {
  it('a day is final only after a listing run at least 24 h after it ended', () => {
    assert.equal(isFinal('2025-03-10', undefined), false);
    assert.equal(isFinal('2025-03-10', at('2025-03-11T23:59:59.999Z')), false);
    assert.equal(isFinal('2025-03-10', at('2025-03-12T00:00:00.000Z')), true);
  });
  it('holds for any day and any listing instant', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: -5 * 86_400_000, max: 5 * 86_400_000 }), (dayIndex, offset) => {
      const dayStartMs = dayIndex * 86_400_000;
      const day = new Date(dayStartMs).toISOString().slice(0, 10);
      const listed = new Date(dayStartMs + 2 * 86_400_000 + offset);
      assert.equal(isFinal(day, listed), offset >= 0);
    }));
  });
  it('days between two instants are whole UTC days, both ends included', () => {
    assert.deepEqual(daysBetween(at('2025-03-10T23:00:00Z'), at('2025-03-12T00:00:00Z')), ['2025-03-10', '2025-03-11', '2025-03-12']);
  });
});

describe('verdict', () => {
  it('complete only when every blob reached every sink that should have it, whole', () => {
    assert.equal(reachedEverySink(blob('2025-03-10').entry), true);
    assert.equal(reachedEverySink(blob('2025-03-10', { state: 'delivered-with-problems' }).entry), true);
    for (const changes of [
      { state: 'expired' }, { state: 'refused' }, { state: 'enqueued' }, { state: 'dead-lettered' },
      { sinks: { archive: { accepted: 10, done: true }, siem: { accepted: 10, done: true, deadLettered: 3 } } },
      { sinks: { archive: { accepted: 10, done: true } } },
      { sinks: { archive: { accepted: 10, done: true }, siem: { accepted: 4, done: false } } },
    ] as Array<Partial<ContentEntry>>) {
      assert.equal(reachedEverySink(blob('2025-03-10', changes).entry), false, JSON.stringify(changes));
      assert.equal(verdictOf(true, [blob('2025-03-10').entry, blob('2025-03-10', changes).entry]), 'incomplete');
      assert.equal(verdictOf(false, [blob('2025-03-10', changes).entry]), 'open');
    }
  });
  it('a sink routed later does not count against blobs processed before it (targets at processing time)', () => {
    assert.equal(reachedEverySink(blob('2025-03-10', { tally: { targets: ['archive'] }, sinks: { archive: { accepted: 1, done: true } } }).entry), true);
  });
  it('rows older than the tally are judged by the sinks they progressed', () => {
    const { tally: _t, ...old } = blob('2025-03-10').entry;
    assert.equal(reachedEverySink(old), true);
  });
  it('an empty final day is complete; unreadable rows are never complete', () => {
    assert.equal(verdictOf(true, []), 'complete');
    assert.equal(verdictOf(true, [], 1), 'incomplete');
  });
  it('the worst verdict wins', () => {
    assert.equal(worstVerdict([]), 'complete');
    assert.equal(worstVerdict(['complete', 'open']), 'open');
    assert.equal(worstVerdict(['open', 'incomplete', 'complete']), 'incomplete');
  });
});

function sampleReceipt() {
  const blobs = [
    blob('2025-03-10'),
    blob('2025-03-10', { notified: false }),
    blob('2025-03-11', { state: 'expired', sinks: {}, tally: { targets: ['archive', 'siem'] } }),
    blob('2025-03-11', { contentType: 'Audit.SharePoint', state: 'refused', sinks: {}, notified: false, detail: 'contentUri on a foreign host' }),
    blob('2025-03-12', { sinks: { archive: { accepted: 10, done: true }, siem: { accepted: 10, done: true, deadLettered: 10 } } }),
    blob('2025-03-13', { state: 'enqueued', sinks: {}, tally: undefined }),
  ];
  return buildReceipt({
    tenants: [{ tenantId, contentTypes: ['Audit.Exchange', 'Audit.SharePoint'] }],
    rows: new Map([[tenantId, { blobs, unreadable: 0 }]]),
    listedThrough: new Map([[streamKey(tenantId, 'Audit.Exchange'), at('2025-03-13T12:00:00Z')], [streamKey(tenantId, 'Audit.SharePoint'), at('2025-03-13T12:00:00Z')]]),
    since: at('2025-03-10T05:00:00Z'),
    until: at('2025-03-13T12:00:00Z'),
    now: at('2025-03-13T12:00:00Z'),
  });
}

describe('the receipt', () => {
  it('says per day and content type what happened', () => {
    const r = sampleReceipt();
    const day = (d: string, ct = 'Audit.Exchange') => r.tenants[0]!.days.find((x) => x.day === d && x.contentType === ct)!;
    assert.equal(r.tenants[0]!.days.length, 8);
    assert.deepEqual([day('2025-03-10').verdict, day('2025-03-11').verdict, day('2025-03-12').verdict, day('2025-03-13').verdict], ['complete', 'incomplete', 'open', 'open']);
    assert.deepEqual(day('2025-03-10').blobs, { known: 2, listed: 2, notified: 1, listedNotNotified: 1, notifiedNotListed: 0, delivered: 2, withProblems: 0, deadLettered: 0, refused: 0, expired: 0, pending: 0 });
    assert.deepEqual(day('2025-03-10').records, { in: 24, filtered: 4 });
    assert.equal(day('2025-03-11').blobs.expired, 1);
    assert.equal(day('2025-03-11', 'Audit.SharePoint').blobs.refused, 1);
    assert.equal(day('2025-03-11', 'Audit.SharePoint').verdict, 'incomplete');
    assert.deepEqual(day('2025-03-12').sinks.find((s) => s.sink === 'siem'), { sink: 'siem', expected: 1, delivered: 0, deadLettered: 1, missing: 0, recordsDelivered: 0, recordsDeadLettered: 10 });
    assert.equal(day('2025-03-13').blobs.pending, 1);
    assert.equal(r.verdict, 'incomplete');
    assert.deepEqual(Receipt.parse(r), r);
  });
  it('keeps only days whose every stream is final', () => {
    assert.deepEqual(finalDayReceipts(sampleReceipt()).map((d) => [d.day, d.verdict]), [['2025-03-10', 'complete'], ['2025-03-11', 'incomplete']]);
  });
});

describe('formats', () => {
  const output = (): ReceiptOutput => ({ ...sampleReceipt(), stored: [{ tenantId, day: '2025-03-10', blob: `o365-receipts/${tenantId}/2025-03-10.json`, sha256: 'a'.repeat(64), written: true }] });
  it('CSV quotes commas, quotes and line breaks, and defuses formulas', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField(-3), '-3');
    const text = formatReceipt(output(), 'csv');
    const lines = text.trimEnd().split('\r\n');
    assert.equal(lines.length, 1 + 8);
    assert.ok(lines[0]!.startsWith('tenantId,day,contentType,final,verdict'));
    assert.ok(lines.some((l) => l.includes(`${tenantId},2025-03-10,Audit.Exchange,true,complete,2,1,1,`) && l.endsWith('a'.repeat(64))));
  });
  it('CSV round-trips any field value', () => {
    fc.assert(fc.property(fc.string(), (value) => {
      const field = csvField(value);
      const unquoted = field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field;
      assert.equal(unquoted.replace(/^'(?=[=+\-@\t\r])/, ''), value);
      if (!field.startsWith('"')) assert.ok(!/[",\r\n]/.test(field));
    }));
  });
  it('JSON is the receipt schema plus where final days are kept', () => {
    const parsed = ReceiptOutput.parse(JSON.parse(formatReceipt(output(), 'json')));
    assert.deepEqual(parsed, output());
  });
  it('HTML is one page with an inline chart per tenant and no external reference', () => {
    const page = formatReceipt({ ...output(), tenants: [...output().tenants, { ...output().tenants[0]!, tenantId: '<script>alert(1)</script>' }] }, 'html');
    assert.ok(page.startsWith('<!DOCTYPE html>'));
    assert.equal((page.match(/<svg /g) ?? []).length, 2);
    assert.ok(!/(https?:)?\/\/|\b(src|href)=|url\(|@import/i.test(page), 'an external reference');
    assert.ok(!page.includes('<script>'));
    assert.ok(page.includes('&#60;script&#62;'));
  });
  it('HTML charts only the top N tenants (worst first) and sums up the rest', () => {
    const base = output();
    const many = Array.from({ length: 30 }, (_, i) => ({ ...base.tenants[0]!, tenantId: `tenant-${i}`, verdict: i === 17 ? 'incomplete' as const : 'complete' as const }));
    const page = formatReceipt({ ...base, tenants: many }, 'html', { top: 5 });
    assert.equal((page.match(/<svg /g) ?? []).length, 5);
    assert.ok(page.indexOf('tenant-17') < page.indexOf('tenant-0'));
    assert.ok(page.includes('25 more tenant(s)'));
  });
  it('text names the verdict, each problem and the stored digest', () => {
    const text = formatReceipt(output(), 'text');
    assert.match(text, /2025-03-11 {2}|2025-03-11\n/);
    assert.match(text, /1 blob\(s\) expired before delivery \(data loss\)/);
    assert.match(text, /sink siem: 1 blob\(s\), 10 record\(s\) in the dead letter/);
    assert.ok(text.includes('a'.repeat(64)));
  });
});

describe('ledger rows for the receipt', () => {
  it('reads rows written before the receipt columns', () => {
    const row = contentToRow(newContent({ tenantId, contentType: 'Audit.Exchange', contentId: 'x', contentCreated: '2025-03-10T10:00:00Z', contentExpiration: '2025-03-17T10:00:00Z', waits: 0 }, 0));
    assert.equal('listed' in row || 'notified' in row || 'tally' in row, false);
    assert.equal(contentFromRow(row).entry.listed, undefined);
  });
  it('round-trips listed, notified, the tally and per-sink dead letters', () => {
    const stored = { ...blob('2025-03-10', { sinks: { siem: { accepted: 3, done: true, deadLettered: 2 } } }), createdAt: new Date('2025-03-10T10:00:00Z') };
    assert.deepEqual(contentFromRow(contentToRow(stored)).entry, stored.entry);
  });
  it('a webhook message flags notified at claim, and once on a finished blob; a reconciler one flags listed', () => {
    const message = { tenantId, contentType: 'Audit.Exchange' as const, contentId: 'y', contentCreated: '2025-03-10T10:00:00Z', contentExpiration: '2025-03-17T10:00:00Z', waits: 0 };
    const claimed = decideClaim(undefined, { ...message, source: 'reconciler' }, 'w', 1000, 0);
    assert.equal(claimed.next?.entry.listed, true);
    assert.equal(claimed.next?.entry.notified, undefined);
    const finished = { ...claimed.next!, entry: { ...claimed.next!.entry, state: 'delivered' as const, claim: null } };
    const late = decideClaim(finished, { ...message, source: 'webhook' }, 'w2', 1000, 5);
    assert.equal(late.result.kind, 'finished');
    assert.equal(late.next?.entry.notified, true);
    assert.equal(decideClaim(late.next, { ...message, source: 'webhook' }, 'w3', 1000, 6).next, undefined, 'a second write');
    assert.equal(decideClaim(finished, { ...message, source: 'replay' }, 'w3', 1000, 6).next, undefined);
  });
});
