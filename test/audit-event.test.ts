import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseClientAddress } from '../shared/records/client-address';
import { decodeRecord } from '../shared/records/decode';
import { toAuditEvent, utcTime } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { readFixture } from './support/fixtures';

const eventOf = (record: unknown) => {
  const decoded = decodeRecord(record);
  return toAuditEvent(decoded, formatLine(decoded));
};

describe('the JSON event', () => {
  it('has the documented shape, keeps the raw record untouched and the line', () => {
    const record = readFixture<unknown[]>('content', 'Audit.Exchange.json')[0]!;
    const before = JSON.stringify(record);
    const event = eventOf(record);
    // This record (Set-OwaMailboxPolicy with ConditionalAccessPolicy) carries a security highlight.
    assert.deepEqual(Object.keys(event).sort(), ['client', 'fields', 'highlights', 'id', 'line', 'operation', 'raw', 'recordType', 'result', 'tenantId', 'time', 'user', 'userType', 'workload'].sort());
    assert.equal(event.raw, record);
    assert.equal(JSON.stringify(record), before);
    assert.match(event.time!, /Z$/);
    assert.equal(event.tenantId, '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66');
  });

  it('flattens Parameters, ExtendedProperties and ModifiedProperties and parses JSON held in strings', () => {
    const entra = readFixture<Array<Record<string, unknown>>>('content', 'Audit.AzureActiveDirectory.json');
    const addUser = eventOf(entra.find((r) => r.Operation === 'Add user.'));
    const modified = addUser.fields.ModifiedProperties as Record<string, { new: unknown; old: unknown }>;
    assert.deepEqual(modified.DisplayName!.new, ['Tomas Ek']);
    const login = eventOf(entra.find((r) => r.Operation === 'UserLoggedIn'));
    assert.equal(typeof (login.fields.ExtendedProperties as Record<string, unknown>).UserAgent, 'string');
    const exchange = readFixture<Array<Record<string, unknown>>>('content', 'Audit.Exchange.json');
    const rule = eventOf(exchange.find((r) => r.Operation === 'New-InboxRule'));
    assert.equal(typeof (rule.fields.Parameters as Record<string, unknown>).Name, 'string');
    const dlp = readFixture<Array<Record<string, unknown>>>('content', 'DLP.All.json');
    const withStringException = eventOf(dlp.find((r) => typeof r.ExceptionInfo === 'string'));
    assert.equal((withStringException.fields.ExceptionInfo as { Reason: string }).Reason, 'Override');
  });

  it('coerces numbers and booleans sent as strings and flags what does not fit, without dropping the record', () => {
    const stringly = readFixture<Array<Record<string, unknown>>>('edge', 'stringly.json');
    const item = stringly.find((r) => r.RecordType === '2')!;
    const event = eventOf(item);
    assert.equal(event.recordType.id, 2);
    assert.equal(event.recordType.name, 'ExchangeItem');
    const logonAsText = stringly.find((r) => typeof r.LogonType === 'string' && Number(r.RecordType) === 2)!;
    assert.equal(eventOf(logonAsText).fields.LogonType, Number(logonAsText.LogonType), 'family fields are coerced too');
    const boolAsText = stringly.find((r) => r.ExternalAccess === 'False' || r.ExternalAccess === 'false');
    if (boolAsText) assert.equal(eventOf(boolAsText).fields.ExternalAccess, false);
    const odd = eventOf({ Id: 'x', RecordType: 'not a number', Operation: 7, Workload: 'Exchange', Custom: { a: 1 } });
    assert.ok(odd.schemaErrors && odd.schemaErrors.some((e) => e.startsWith('RecordType')));
    assert.ok(odd.schemaErrors.some((e) => e.startsWith('Operation')));
    assert.deepEqual(odd.fields.Custom, { a: 1 }, 'unknown fields are kept');
    assert.equal(odd.id, 'x');
  });

  it('reads every client address form of the edge fixture', () => {
    const cases: Array<[string, { ip: string | null; port: number | null }]> = [
      ['198.51.100.7:52311', { ip: '198.51.100.7', port: 52311 }],
      ['[2001:db8::5]:443', { ip: '2001:db8::5', port: 443 }],
      ['[198.51.100.7]:52311', { ip: '198.51.100.7', port: 52311 }],
      ['2001:DB8:0:0:0:0:0:1', { ip: '2001:db8:0:0:0:0:0:1', port: null }],
      ['[2001:db8::abcd]', { ip: '2001:db8::abcd', port: null }],
      ['::ffff:203.0.113.9', { ip: '::ffff:203.0.113.9', port: null }],
      ['0.0.0.0', { ip: '0.0.0.0', port: null }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(parseClientAddress(text), expected, text);
    assert.deepEqual(parseClientAddress('ffff:192.0.2.44'), { ip: null, port: null, raw: 'ffff:192.0.2.44' });
    for (const record of readFixture<unknown[]>('edge', 'ip-formats.json')) {
      const event = eventOf(record);
      const line = event.line;
      if (event.client === null) assert.match(line, /ClientIP: no_ip/);
      else assert.doesNotMatch(line, /ClientIP: (no_ip|<null>)/);
    }
  });

  it('writes times as UTC ISO 8601 with Z', () => {
    assert.equal(utcTime('2024-05-14T08:03:11'), '2024-05-14T08:03:11Z');
    assert.equal(utcTime('2024-05-14T08:03:11.1234567'), '2024-05-14T08:03:11.1234567Z');
    assert.equal(utcTime('2024-05-14T08:03:11Z'), '2024-05-14T08:03:11Z');
    assert.equal(utcTime('2024-05-14T10:03:11+02:00'), '2024-05-14T08:03:11.000Z');
    assert.equal(utcTime('yesterday'), null);
  });
});
