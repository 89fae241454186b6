import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSettings } from '../shared/config';
import { decodeRecord } from '../shared/records/decode';
import { toAuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { redactDetections } from '../shared/records/redact-detections';
import { readFixture } from './support/fixtures';

const cards = /4111 1111 1111 1111|5500 0000 0000 0004/;

describe('DLP detected values', () => {
  it('are replaced, count kept, before a record reaches a sink; other records are untouched', () => {
    const dlp = readFixture<unknown[]>('content', 'DLP.All.json').map(decodeRecord);
    const withValues = dlp.filter((r) => cards.test(JSON.stringify(r.raw)));
    assert.ok(withValues.length > 0, 'the fixture carries detected values');
    for (const record of dlp) {
      const redacted = redactDetections(record);
      const event = JSON.stringify(toAuditEvent(redacted, formatLine(redacted)));
      assert.doesNotMatch(event, cards);
      assert.equal((JSON.stringify(redacted.raw).match(/\[redacted\]/g) ?? []).length, (JSON.stringify(record.raw).match(/"Context"/g) ?? []).length * 2);
    }
    assert.ok(cards.test(JSON.stringify(withValues[0]!.raw)), 'the original record is not modified');
    const exchange = decodeRecord(readFixture<unknown[]>('content', 'Audit.Exchange.json')[0]);
    assert.equal(redactDetections(exchange), exchange);
  });

  it('redacts a record that also nests 5,000 levels deep or names a field __proto__, and keeps the cut flagged', () => {
    const dlp = readFixture<Array<Record<string, unknown>>>('content', 'DLP.All.json').filter((r) => cards.test(JSON.stringify(r)));
    let deep: unknown = 'bottom';
    for (let i = 0; i < 5_000; i++) deep = { SensitiveInformationDetections: { DetectedValues: [{ Value: '4111 1111 1111 1111' }] }, inner: deep };
    for (const record of dlp) {
      const odd = JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
      odd.Deep = deep;
      Object.defineProperty(odd, '__proto__', { value: { note: 'a field' }, enumerable: true, writable: true, configurable: true });
      const redacted = redactDetections(decodeRecord(odd));
      assert.ok(redacted.schemaErrors.some((e) => e.startsWith('Deep.inner.') && e.endsWith('kept as JSON text')), 'the cut stays flagged');
      assert.ok(Object.hasOwn(redacted.raw as object, '__proto__'), 'a __proto__ field stays a field');
      const event = JSON.stringify(toAuditEvent(redacted, formatLine(redacted)));
      // Detected values within the cap are redacted one by one; the JSON text below the cap is redacted whole.
      assert.doesNotMatch(event, cards);
      assert.ok(event.includes('[redacted]'));
      assert.equal(Object.getPrototypeOf(redacted.raw), Object.prototype);
    }
  });

  it('is on by default and can be turned off with O365_REDACT_DLP_DETECTIONS=false', () => {
    const base = { O365_TENANT_ID: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66', O365_USE_MANAGED_IDENTITY: 'true' };
    assert.equal(parseSettings(base).relay.redactDlpDetections, true);
    assert.equal(parseSettings({ ...base, O365_REDACT_DLP_DETECTIONS: 'false' }).relay.redactDlpDetections, false);
  });
});
