// The pure RFC 5424 formatting of the syslog sink: PRI, timestamp, header fields, SD escaping, the UTF-8 cut.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeRecord } from '../shared/records/decode';
import { formatLine } from '../shared/records/line';
import type { ContentRef } from '../shared/sinks/sink';
import {
  escapeParamValue,
  fitUtf8,
  headerField,
  octetFrame,
  priority,
  structuredData,
  syslogMessage,
  syslogTimestamp,
  type SyslogFormat,
} from '../shared/sinks/syslog-format';

const content: ContentRef = {
  tenantId: '41463f53-8812-40f4-890f-865bf6e35190',
  contentType: 'Audit.AzureActiveDirectory',
  contentId: '20240514000000000$20240514010000000$audit_azureactivedirectory$Audit_AzureActiveDirectory$emea0026',
  contentCreated: '2024-05-14T01:00:00.000Z',
};
const format: SyslogFormat = {
  facility: 'local0',
  severity: 'informational',
  failedSeverity: 'warning',
  hostname: 'relay-host',
  appName: 'o365-audit-relay',
  msgId: 'recordType',
  sdId: 'o365@32473',
  bom: true,
  maxMessageBytes: 8192,
};
const record = (fields: Record<string, unknown> = {}) =>
  decodeRecord({
    Id: 'a1b2c3d4-0000-4000-a000-000000000001',
    CreationTime: '2024-05-14T10:11:12',
    OrganizationId: content.tenantId,
    RecordType: 15,
    Workload: 'AzureActiveDirectory',
    Operation: 'UserLoggedIn',
    UserId: 'alice@contoso.com',
    UserType: 0,
    ResultStatus: 'Success',
    ClientIP: '203.0.113.7',
    ...fields,
  });

test('PRI is facility * 8 + severity (RFC 5424 6.2.1)', () => {
  assert.equal(priority('local0', 'informational'), 134);
  assert.equal(priority('kern', 'emergency'), 0);
  assert.equal(priority('local7', 'debug'), 191);
  assert.equal(priority('auth', 'warning'), 36);
});

test('TIMESTAMP is RFC 3339 UTC with at most six fractional digits, or the NILVALUE', () => {
  assert.equal(syslogTimestamp('2024-05-14T10:11:12'), '2024-05-14T10:11:12Z');
  assert.equal(syslogTimestamp('2024-05-14T10:11:12.1234567'), '2024-05-14T10:11:12.123456Z');
  assert.equal(syslogTimestamp('2024-05-14T12:11:12+02:00'), '2024-05-14T10:11:12.000Z');
  assert.equal(syslogTimestamp('yesterday'), '-');
  assert.equal(syslogTimestamp(undefined), '-');
});

test('header fields are printable ASCII without spaces, bounded, NILVALUE when empty', () => {
  assert.equal(headerField('Audit.Exchange', 32), 'Audit.Exchange');
  assert.equal(headerField('a b\u00e9c', 32), 'a_b_c');
  assert.equal(headerField('x'.repeat(40), 32), 'x'.repeat(32));
  assert.equal(headerField('', 32), '-');
  assert.equal(headerField(undefined, 32), '-');
});

test('SD-PARAM values escape ", \\ and ] and nothing else; absent values are left out', () => {
  assert.equal(escapeParamValue('a"b\\c]d[e='), 'a\\"b\\\\c\\]d[e=');
  assert.equal(structuredData('o365@32473', [['id', 'x"]'], ['tenant', null], ['workload', '']]), '[o365@32473 id="x\\"\\]"]');
  // A control character cannot end the message early: it is written as text, like in the line.
  assert.equal(structuredData('s@1', [['id', 'a\nb']]), '[s@1 id="a\\\\nb"]');
});

test('a message is header, structured data with the ids, BOM and the readable line', () => {
  const decoded = record();
  const line = formatLine(decoded);
  const message = syslogMessage(decoded, line, content, format);
  assert.ok(message.ok);
  const text = message.bytes.toString('utf8');
  assert.equal(
    text,
    `<134>1 2024-05-14T10:11:12Z relay-host o365-audit-relay - AzureActiveDirectoryStsLogon ` +
      `[o365@32473 id="a1b2c3d4-0000-4000-a000-000000000001" tenant="${content.tenantId}" contentType="Audit.AzureActiveDirectory" ` +
      `contentId="${content.contentId}" recordType="AzureActiveDirectoryStsLogon" workload="AzureActiveDirectory"] \ufeff${line}`,
  );
  assert.equal(message.cutBytes, 0);
  const noBom = syslogMessage(decoded, line, content, { ...format, bom: false, msgId: 'contentType' });
  assert.ok(noBom.ok);
  assert.match(noBom.bytes.toString('utf8'), / - Audit\.AzureActiveDirectory \[o365@32473 .*\] 20/);
  assert.ok(!noBom.bytes.includes(Buffer.from([0xef, 0xbb, 0xbf])));
});

test('failed results get the failed severity', () => {
  for (const status of ['Failed', 'failure', 'False']) {
    const message = syslogMessage(record({ ResultStatus: status }), 'x', content, format);
    assert.ok(message.ok);
    assert.ok(message.bytes.toString().startsWith('<132>1 '), status);
  }
});

test('a long line is cut under maxMessageBytes at a character boundary with a visible marker', () => {
  const decoded = record({ Operation: '漢字'.repeat(1000), UserId: '😀'.repeat(1000) });
  const line = formatLine(decoded);
  assert.ok(Buffer.byteLength(line) > 8192);
  const message = syslogMessage(decoded, line, content, format);
  assert.ok(message.ok);
  assert.ok(message.bytes.length <= 8192 && message.bytes.length > 8150);
  const text = new TextDecoder('utf-8', { fatal: true }).decode(message.bytes);
  const msg = text.slice(text.indexOf('\ufeff') + 1);
  const m = /^([\s\S]*)…\[\+(\d+) bytes\]$/.exec(msg);
  assert.ok(m, 'marker at the end');
  assert.ok(line.startsWith(m[1]!));
  assert.equal(Buffer.byteLength(m[1]!) + Number(m[2]), Buffer.byteLength(line));
  assert.equal(message.cutBytes, Number(m[2]));
});

test('fitUtf8: never over budget, never splits a character, cut text + removed bytes = the original', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 0, max: 1200 }), (text, budget) => {
      const fitted = fitUtf8(text, budget);
      const size = Buffer.byteLength(text);
      if (fitted === null) {
        assert.ok(size > budget);
        return;
      }
      assert.ok(fitted.bytes.length <= budget);
      const out = new TextDecoder('utf-8', { fatal: true }).decode(fitted.bytes);
      if (fitted.cutBytes === 0) assert.equal(out, text);
      else {
        const kept = out.slice(0, out.lastIndexOf('…['));
        assert.ok(text.startsWith(kept));
        assert.equal(Buffer.byteLength(kept) + fitted.cutBytes, size);
      }
    }),
  );
});

test('a header that leaves no room for the line is reported, not sent over the limit', () => {
  const message = syslogMessage(record({ Id: 'x'.repeat(256) }), 'line', content, { ...format, maxMessageBytes: 300 });
  assert.equal(message.ok, false);
});

test('octet-counting frame: byte length, a space, the message', () => {
  assert.deepEqual(octetFrame(Buffer.from('é')), Buffer.from('2 é'));
});
