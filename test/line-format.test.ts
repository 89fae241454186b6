import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeRecord } from '../shared/records/decode';
import { knownRecordTypeCount, recordTypeName, userTypeLabel } from '../shared/records/enums';
import { escapeLineValue } from '../shared/records/escape';
import { formatLine } from '../shared/records/line';
import { readFixture, recordFixtureFiles } from './support/fixtures';

interface SeedVectors {
  userTypeLabels: Record<string, string>;
  cases: Array<{ name: string; record: unknown; line: string }>;
}
const seed = readFixture<SeedVectors>('seed-vectors.json');

const lineOf = (record: unknown) => formatLine(decodeRecord(record));
const unsafe = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe('the readable line', () => {
  for (const vector of seed.cases) {
    it(`matches the seed vector byte for byte: ${vector.name}`, () => {
      assert.equal(lineOf(vector.record), vector.line);
    });
  }

  it('names every documented RecordType and prints unknown ones as RecordType_<n>', () => {
    const enums = readFixture<{ RecordType: Record<string, string> }>('..', 'reference', 'enums.json');
    assert.ok(knownRecordTypeCount >= 460, `only ${knownRecordTypeCount} RecordType names`);
    for (const [value, name] of Object.entries(enums.RecordType)) assert.equal(recordTypeName(Number(value)), name);
    assert.equal(recordTypeName(9999), 'RecordType_9999');
    assert.equal(recordTypeName(undefined), 'RecordType_none');
  });

  it('labels user types from the seed table and unknown ones as UserType_<n>', () => {
    for (const [value, label] of Object.entries(seed.userTypeLabels)) assert.equal(userTypeLabel(Number(value)), label);
    assert.equal(userTypeLabel(42), 'UserType_42');
  });

  for (const file of recordFixtureFiles()) {
    it(`gives exactly one safe line per record: ${path.basename(path.dirname(file))}/${path.basename(file)}`, () => {
      const records = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
      for (const record of records) {
        const line = lineOf(record);
        assert.doesNotMatch(line, unsafe, `control or bidi character in: ${line.slice(0, 120)}`);
        assert.match(line, /^\S+ Azure Event Log: /);
        const r = record as { RecordType?: unknown };
        if (typeof r.RecordType === 'number' && r.RecordType >= 1 && r.RecordType <= 463 && r.RecordType !== 137) {
          assert.doesNotMatch(line, /RecordType_\d/, 'a documented RecordType was not named');
        }
      }
    });
  }

  it('shows ExchangeAdmin Parameters, the item count of a group, and MailItemsAccessed counts', () => {
    const exchange = readFixture<Array<Record<string, unknown>>>('content', 'Audit.Exchange.json');
    const inboxRule = exchange.find((r) => r.Operation === 'New-InboxRule' && r.ResultStatus === 'True')!;
    assert.match(lineOf(inboxRule), /, Parameters: [^,]*ForwardTo=[^;]+; /);
    assert.ok(lineOf(inboxRule).includes(', Parameters: '), 'Parameters come last');
    const group = exchange.find((r) => Array.isArray(r.AffectedItems) && r.AffectedItems.length === 3)!;
    assert.match(lineOf(group), /, Item_Count: 3$/);
    const bind = exchange.find((r) => r.Operation === 'MailItemsAccessed' && Array.isArray(r.Folders) && r.Folders.length === 2)!;
    assert.match(lineOf(bind), /MailAccessType: Bind, .*Folder_Count: 2, Item_Count: \d+, Folders: /);
  });

  it('never prints DLP detected values, only type names and counts', () => {
    for (const record of readFixture<unknown[]>('content', 'DLP.All.json')) {
      const line = lineOf(record);
      assert.doesNotMatch(line, /4111 1111 1111 1111|5500 0000 0000 0004/);
      assert.match(line, /Policy: /);
    }
  });

  it('escapes injection attempts and cuts long values visibly', () => {
    const injection = readFixture<Array<Record<string, unknown>>>('edge', 'injection.json');
    const lines = injection.map(lineOf);
    assert.ok(lines.some((l) => l.includes('\\u{001B}[31m')), 'ANSI escape written as \\u{001B}');
    assert.ok(lines.some((l) => l.includes('\\u{202E}')), 'RTL override written as \\u{202E}');
    assert.ok(lines.some((l) => l.includes('\\r\\n')), 'CRLF written as \\r\\n');
    assert.ok(lines.some((l) => /…\[\+\d+ chars\]/.test(l)), 'the 20 KB subject is cut with a marker');
    for (const l of lines) assert.ok(l.length < 2048 * 12, 'no line carries an uncut huge value');
  });
});

describe('escapeLineValue', () => {
  it('writes controls, bidi controls and lone surrogates visibly and keeps emoji and backslashes', () => {
    assert.equal(escapeLineValue('a\nb\rc\td'), 'a\\nb\\rc\\td');
    assert.equal(escapeLineValue('\x00\x7f\x85'), '\\x00\\x7F\\x85');
    assert.equal(escapeLineValue('\x1b[0m'), '\\u{001B}[0m');
    assert.equal(escapeLineValue('abc\u202edef\u2066'), 'abc\\u{202E}def\\u{2066}');
    assert.equal(escapeLineValue('x\ud83dy'), 'x\\u{D83D}y');
    assert.equal(escapeLineValue('👍🏽 \\\\server\\share\\'), '👍🏽 \\\\server\\share\\');
  });

  it('cuts at the limit, never inside a surrogate pair, and says how much was cut', () => {
    assert.equal(escapeLineValue('abcdefghij', 4), 'abcd…[+6 chars]');
    assert.equal(escapeLineValue('abc😀def', 4), 'abc…[+5 chars]');
    assert.equal(escapeLineValue('short', 2048), 'short');
  });
});
