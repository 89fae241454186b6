// Real shapes through the real decode path (decodeRecord → formatLine → toAuditEvent): list fields sent as one
// string (PowerShell-form parameters read into pairs), addresses with ports, values ending in CR/LF, and times
// that cannot exist. Each odd value costs only itself: the record still decodes, its other facts still show.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { toAuditEvent, type AuditEvent } from '../shared/records/event-json';
import { highlightsOf } from '../shared/records/highlights';
import { formatLine } from '../shared/records/line';
import type { RecordProfile } from '../shared/records/profiles';
import { readFixture } from './support/fixtures';

type Rec = Record<string, unknown>;
const exchange = readFixture<Rec[]>('content', 'Audit.Exchange.json');
const entra = readFixture<Rec[]>('content', 'Audit.AzureActiveDirectory.json');
const general = readFixture<Rec[]>('content', 'Audit.General.json');
const dlp = readFixture<Rec[]>('content', 'DLP.All.json');
const realWorld = ['blueteam0ps-det-eng-samples.json', 'demisto-content.json', 'log2timeline-plaso.json', 'microsoftdocs-microsoft-365-docs.json'].flatMap((f) =>
  readFixture<Rec[]>('real-world', f),
);

const decodeAll = (record: unknown): { decoded: DecodedRecord; line: string; event: AuditEvent } => {
  const decoded = decodeRecord(record);
  const line = formatLine(decoded);
  return { decoded, line, event: toAuditEvent(decoded, line) };
};
const variant = (r: Rec, changes: Rec): Rec => ({ ...structuredClone(r), ...changes });
const find = (records: Rec[], test: (r: Rec) => boolean): Rec => {
  const found = records.find(test);
  assert.ok(found, 'fixture record missing');
  return found;
};

const setMailbox = find(exchange, (r) => r.Operation === 'Set-Mailbox' && Array.isArray(r.Parameters));
const complianceSearch = find(general, (r) => r.RecordType === 18);
const signIn = find(entra, (r) => r.Operation === 'UserLoggedIn');
const directory = find(entra, (r) => r.RecordType === 8 && Array.isArray(r.Target));
const mailItem = find(exchange, (r) => r.RecordType === 2 && typeof r.ClientIPAddress === 'string');

describe('list fields sent as one string', () => {
  it('PowerShell-form Parameters give the same line and fields as the list form, raw kept as received', () => {
    const list = [
      { Name: 'Identity', Value: 'nora.lindqvist@contoso.com' },
      { Name: 'ForwardingSmtpAddress', Value: 'smtp:remit.copy@example.org' },
      { Name: 'DeliverToMailboxAndForward', Value: 'True' },
    ];
    const asList = decodeAll(variant(setMailbox, { Parameters: list }));
    const text = '-Identity "nora.lindqvist@contoso.com" -ForwardingSmtpAddress \'smtp:remit.copy@example.org\' -DeliverToMailboxAndForward:$true\r\n';
    const asText = decodeAll(variant(setMailbox, { Parameters: text }));
    assert.equal(asText.line, asList.line);
    assert.deepEqual(asText.event.fields.Parameters, asList.event.fields.Parameters);
    assert.deepEqual(asText.decoded.schemaErrors, []);
    assert.equal((asText.event.raw as Rec).Parameters, text, 'raw keeps the string');
    assert.match(asText.line, /, Parameters: Identity=nora\.lindqvist@contoso\.com; ForwardingSmtpAddress=smtp:remit\.copy@example\.org; DeliverToMailboxAndForward=True, Highlight: mailbox-forwarding-set \(high\)$/);
  });

  it('reads the Security & Compliance cmdlet record of the fixtures into pairs (line and fields)', () => {
    const { line, event, decoded } = decodeAll(complianceSearch);
    assert.deepEqual(decoded.schemaErrors, []);
    assert.match(line, /, Parameters: Name=BEC sweep 2024-05-14; ExchangeLocation=All; ContentMatchQuery=subject:"remittance details" AND received>=2024-05-13$/);
    assert.deepEqual(event.fields.Parameters, {
      Name: 'BEC sweep 2024-05-14',
      ExchangeLocation: 'All',
      ContentMatchQuery: 'subject:"remittance details" AND received>=2024-05-13',
    });
    const dlpPolicy = decodeAll(find(realWorld, (r) => r.RecordType === 18));
    assert.deepEqual(dlpPolicy.event.fields.Parameters, { Identity: 'Yzk2YzQ1OTYtMzNkZi00OTZmLWFmZGEtMGRlNzQzMzllMzk30' });
  });

  it('keeps a string that is not parameter text verbatim, with no schema error, in line and fields', () => {
    const odd = 'Identity=x; (unbalanced "quote';
    const { line, event, decoded } = decodeAll(variant(setMailbox, { Parameters: odd }));
    assert.deepEqual(decoded.schemaErrors, []);
    assert.ok(line.endsWith(`, Parameters: ${odd}`), line);
    assert.equal(event.fields.Parameters, odd);
  });

  it('string-form Parameters feed the highlight rules like the list form', () => {
    const exportAction = variant(complianceSearch, { Operation: 'New-ComplianceSearchAction', Parameters: '-SearchName "BEC sweep" -Export -Format FxStream' });
    assert.deepEqual(highlightsOf(decodeRecord(exportAction)).map((h) => h.name), ['ediscovery-export']);
    const preview = variant(exportAction, { Parameters: '-SearchName "BEC sweep" -Preview' });
    assert.deepEqual(highlightsOf(decodeRecord(preview)), []);
    const auditOff = variant(setMailbox, { Parameters: '-Identity x -AuditEnabled:$false' });
    assert.ok(highlightsOf(decodeRecord(auditOff)).some((h) => h.name === 'auditing-disabled'));
  });

  it('takes every list-shaped field as a string in every family, without a schema error', () => {
    const cases: Array<[Rec, string[]]> = [
      [setMailbox, ['Parameters', 'ModifiedProperties']],
      [mailItem, ['OperationProperties', 'ModifiedProperties', 'recipientList']],
      [find(exchange, (r) => r.RecordType === 3), ['Folders', 'AffectedItems']],
      [find(exchange, (r) => r.RecordType === 50), ['Folders', 'Messages', 'OperationProperties']],
      [signIn, ['ExtendedProperties', 'DeviceProperties', 'ModifiedProperties', 'Actor', 'Target']],
      [directory, ['ExtendedProperties', 'ModifiedProperties', 'Actor', 'Target']],
      [dlp[0]!, ['PolicyDetails']],
      [complianceSearch, ['Parameters', 'ExtendedProperties', 'ExtraProperties', 'OperationProperties', 'DeviceProperties']],
    ];
    for (const [record, fields] of cases) {
      for (const field of fields) {
        for (const value of ['-Name "x" -Other y', 'plain text', '']) {
          const { decoded, line, event } = decodeAll(variant(record, { [field]: value }));
          assert.deepEqual(decoded.schemaErrors, [], `${String(record.Operation)} ${field} = ${value}`);
          assert.match(line, /^\S+ Azure Event Log: /);
          assert.ok(field in event.fields || value === '', `${field} kept in fields`);
        }
      }
    }
    const dlpMeta = variant(dlp[0]!, { ExchangeMetaData: { From: 'a@contoso.com', To: 'b@contoso.com', CC: '', Subject: 's' } });
    assert.deepEqual(decodeRecord(dlpMeta).schemaErrors, []);
  });

  it('one odd value among good records: the good records decode exactly as they do alone', () => {
    const good = [...exchange, ...entra, ...general];
    const alone = good.map((r) => formatLine(decodeRecord(r)));
    fc.assert(
      fc.property(fc.nat(good.length), fc.constantFrom('-Name "unterminated', '-A (', '-A "x" -B:$true', 'x'.repeat(50_000)), (at, parameters) => {
        const batch: unknown[] = [...good];
        batch.splice(at, 0, variant(setMailbox, { Parameters: parameters, CreationTime: '2024-02-30T10:00:00' }));
        const lines = batch.map((r) => formatLine(decodeRecord(r)));
        const odd = lines.splice(at, 1)[0]!;
        assert.deepEqual(lines, alone);
        assert.match(odd, /^2024-02-30T10:00:00 Azure Event Log: Exchange Set-Mailbox: ExchangeAdmin, .*, ObjectId: /);
      }),
      { numRuns: 20 },
    );
  });
});

describe('addresses', () => {
  const header = (clientIp: unknown, extra: Rec = {}) => decodeAll(variant(setMailbox, { ClientIP: clientIp, ...extra }));
  it('prints the address alone, then ClientPort when there was one; an IPv6 address without brackets is never split', () => {
    const cases: Array<[string, string, { ip: string | null; port: number | null; raw?: string }]> = [
      ['198.51.100.1:443', 'ClientIP: 198.51.100.1, ClientPort: 443, ResultStatus', { ip: '198.51.100.1', port: 443 }],
      ['[2001:db8::1]:443', 'ClientIP: 2001:db8::1, ClientPort: 443, ResultStatus', { ip: '2001:db8::1', port: 443 }],
      ['2001:db8::1', 'ClientIP: 2001:db8::1, ResultStatus', { ip: '2001:db8::1', port: null }],
      ['2001:db8::1:443', 'ClientIP: 2001:db8::1:443, ResultStatus', { ip: '2001:db8::1:443', port: null }],
      ['198.51.100.1\r\n', 'ClientIP: 198.51.100.1, ResultStatus', { ip: '198.51.100.1', port: null }],
      ['198.51.100.1:99999', 'ClientIP: 198.51.100.1:99999, ResultStatus', { ip: null, port: null, raw: '198.51.100.1:99999' }],
      ['ClientIP', 'ClientIP: ClientIP, ResultStatus', { ip: null, port: null, raw: 'ClientIP' }],
    ];
    for (const [written, expected, client] of cases) {
      const { line, event } = header(written);
      assert.ok(line.includes(`, ${expected}`), `${JSON.stringify(written)}: ${line}`);
      assert.deepEqual(event.client, client, written);
    }
    assert.ok(header(null).line.includes(', ClientIP: no_ip, ResultStatus'));
  });

  it('reads ClientIPAddress and ActorIpAddress the same way when they are the first address', () => {
    const item = decodeAll(variant(mailItem, { ClientIP: undefined, ClientIPAddress: '[2001:db8::7]:50123' }));
    assert.ok(item.line.includes(', ClientIP: 2001:db8::7, ClientPort: 50123, ResultStatus'), item.line);
    assert.deepEqual(item.event.client, { ip: '2001:db8::7', port: 50123 });
    const actor = decodeAll(variant(directory, { ClientIP: undefined, ActorIpAddress: '203.0.113.9:1234' }));
    assert.ok(actor.line.includes(', ClientIP: 203.0.113.9, ClientPort: 1234, ResultStatus'), actor.line);
  });

  it('splits any address field a profile shows (SenderIp, UserIp...) into address and port', () => {
    const profile: RecordProfile = { name: 'test', family: 'general', fields: [['SenderIp', 'SenderIp'], ['UserIp', 'UserIp'], ['Subject', 'Subject']] };
    const decoded = decodeRecord({ ...structuredClone(complianceSearch), SenderIp: '198.51.100.20:25', UserIp: '2001:db8::9', Subject: 'x' });
    const line = formatLine({ ...decoded, profile });
    assert.ok(line.endsWith(', SenderIp: 198.51.100.20, SenderPort: 25, UserIp: 2001:db8::9, Subject: x'), line);
  });

  it('the line and the event agree on every real-world record', () => {
    for (const record of realWorld) {
      const { line, event } = decodeAll(record);
      const shown = /, ClientIP: ([^,]*), (?:ClientPort: (\d+), )?ResultStatus/.exec(line);
      assert.ok(shown, line);
      if (event.client === null) assert.equal(shown[1], 'no_ip');
      else {
        assert.equal(shown[1], event.client.ip ?? event.client.raw);
        assert.equal(shown[2] === undefined ? null : Number(shown[2]), event.client.port);
      }
      assert.doesNotMatch(line, /ClientIP: \d+\.\d+\.\d+\.\d+:\d+/, 'no port left inside ClientIP');
    }
  });
});

describe('noise', () => {
  it('trims trailing CR/LF and spaces from values; CR/LF inside a value stay escaped', () => {
    const { line, event } = decodeAll(
      variant(mailItem, { OriginatingServer: 'CO1PR11MB4021 (15.20.7544.029)\r\n', ResultStatus: 'Succeeded \t', UserId: 'nora@contoso.com\r\n', Item: { Subject: 'line one\r\nline two\r\n' } }),
    );
    assert.ok(line.includes(', OriginatingServer: CO1PR11MB4021 (15.20.7544.029)'), line);
    assert.ok(line.includes('User_name: nora@contoso.com, '), line);
    assert.ok(line.includes(', ResultStatus: Succeeded, '), line);
    assert.ok(line.includes(', Item_Subject: line one\\r\\nline two, '), line);
    assert.doesNotMatch(line, /\\r\\n,|\\r\\n$/);
    assert.equal((event.raw as { OriginatingServer: string }).OriginatingServer, 'CO1PR11MB4021 (15.20.7544.029)\r\n', 'the event keeps values as written');
  });
});

describe('impossible times', () => {
  it('are schema errors in the event, the raw record kept, never a valid time', () => {
    for (const bad of ['2024-05-14T17:08:65', '2024-02-30T10:00:00', '2023-02-29T00:00:00Z', '2024-13-01T00:00:00']) {
      const created = decodeAll(variant(setMailbox, { CreationTime: bad }));
      assert.equal(created.event.time, null, bad);
      assert.ok(created.event.schemaErrors?.some((e) => e.startsWith('CreationTime')), bad);
      assert.ok(created.line.startsWith(`${bad} Azure Event Log:`));

      const issued = decodeAll(variant(setMailbox, { AppAccessContext: { IssuedAtTime: bad, UniqueTokenId: 't' } }));
      assert.ok(issued.event.schemaErrors?.some((e) => e.startsWith('AppAccessContext.IssuedAtTime')), bad);
      assert.equal(((issued.event.raw as Rec).AppAccessContext as Rec).IssuedAtTime, bad);

      const mail = decodeAll({ ...structuredClone(complianceSearch), RecordType: 28, Operation: 'TIMailData', Workload: 'ThreatIntelligence', MessageTime: bad });
      assert.ok(mail.event.schemaErrors?.some((e) => e.startsWith('MessageTime')), bad);
      assert.equal(mail.event.fields.MessageTime, undefined);
      const click = decodeAll({ ...structuredClone(complianceSearch), RecordType: 41, Operation: 'TIUrlClickData', TimeOfClick: bad });
      assert.ok(click.event.schemaErrors?.some((e) => e.startsWith('TimeOfClick')), bad);
      const dlpSent = decodeAll(variant(dlp[0]!, { ExchangeMetaData: { Subject: 's', Sent: bad } }));
      assert.ok(dlpSent.event.schemaErrors?.some((e) => e.startsWith('ExchangeMetaData.Sent')), bad);
    }
  });

  it('real times in the same fields are not (near miss)', () => {
    for (const good of ['2024-05-14T17:08:59', '2024-02-29T10:00:00', '2024-05-14T17:08:59.1234567Z', '2024-05-14T19:08:59+02:00', '2024-05-14T17:08:59\r\n']) {
      const issued = decodeAll(variant(setMailbox, { CreationTime: good, AppAccessContext: { IssuedAtTime: good } }));
      assert.deepEqual(issued.decoded.schemaErrors, [], good);
      assert.notEqual(issued.event.time, null);
      const mail = decodeAll({ ...structuredClone(complianceSearch), RecordType: 28, MessageTime: good, TimeOfClick: good, StartTimeUtc: good });
      assert.deepEqual(mail.decoded.schemaErrors, [], good);
    }
  });

  it('no fixture record (content, real-world) has a schema error', () => {
    for (const record of [...exchange, ...entra, ...general, ...dlp, ...realWorld]) assert.deepEqual(decodeRecord(record).schemaErrors, [], String(record.Id));
  });
});
