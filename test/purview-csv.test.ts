import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { decodeRecord } from '../shared/records/decode';
import { decodeStream, type InvalidInput } from '../shared/records/decode-stream';
import { formatLine } from '../shared/records/line';
import { exportCreationTime, isPurviewCsvHead, readPurviewCsv, splitCsvRow } from '../shared/records/purview-csv';
import { fixturePath, repoRoot } from './support/fixtures';

type Rec = Record<string, unknown>;
const exportFile = fixturePath('purview', 'audit-export.csv');
const exportBytes = readFileSync(exportFile);
const header = 'RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames';

const contentById = new Map<string, Rec>();
for (const file of ['Audit.Exchange.json', 'Audit.AzureActiveDirectory.json', 'Audit.SharePoint.json', 'Audit.General.json', 'DLP.All.json']) {
  for (const r of JSON.parse(readFileSync(fixturePath('content', file), 'utf8')) as Rec[]) contentById.set(String(r.Id), r);
}

async function* chunked(bytes: Buffer, cuts: readonly number[] = []): AsyncGenerator<Buffer> {
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= from || cut >= bytes.length) continue;
    yield bytes.subarray(from, cut);
    from = cut;
  }
  yield bytes.subarray(from);
}

async function decodeAll(bytes: Buffer, cuts?: readonly number[]) {
  const lines: string[] = [];
  const ids: string[] = [];
  const invalid: InvalidInput[] = [];
  for await (const batch of decodeStream(chunked(bytes, cuts))) {
    for (const r of batch.records) {
      lines.push(formatLine(r));
      ids.push(String(r.common.Id));
    }
    invalid.push(...batch.invalid);
  }
  return { lines, ids, invalid };
}

/** One export row: the CSV quoting of a record as Purview writes it (doubled quotes, `\/`, trailing-space date). */
const csvField = (s: string) => `"${s.replaceAll('"', '""')}"`;
const rowOf = (r: Rec) =>
  [r.Id, csvField(`${String(r.CreationTime)}.0000000Z `), r.RecordType, r.Operation, r.UserId, csvField(JSON.stringify(r).replaceAll('/', '\\/')), '', ''].join(',');
const records = [...contentById.values()];

describe('Purview audit CSV export', () => {
  it('decodes every row of the fixture export to the same line as its record in content/ (by Id)', async () => {
    const { lines, ids, invalid } = await decodeAll(exportBytes);
    assert.deepEqual(invalid, []);
    assert.equal(lines.length, 10);
    for (const [i, id] of ids.entries()) {
      const original = contentById.get(id);
      assert.ok(original, `row ${i + 2}: Id ${id} is not in content/`);
      assert.equal(lines[i], formatLine(decodeRecord(original)));
    }
    assert.ok(lines.some((l) => l.endsWith(', Highlight: application-consent (high)')), 'highlights come along');
  });

  it('reads it gzipped and with a UTF-8 BOM, detected by content', async () => {
    const expected = (await decodeAll(exportBytes)).lines;
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), exportBytes]);
    assert.deepEqual((await decodeAll(withBom)).lines, expected);
    assert.deepEqual((await decodeAll(gzipSync(withBom))).lines, expected);
    const lf = Buffer.from(exportBytes.toString('utf8').replaceAll('\r\n', '\n'));
    assert.deepEqual((await decodeAll(lf)).lines, expected);
  });

  it('tells an export from JSON input by its first line', () => {
    const head = (s: string, complete = true) => isPurviewCsvHead(Buffer.from(s), complete);
    assert.equal(head(header + '\r\n'), true);
    assert.equal(head('\ufeffCreationDate,UserIds,Operations,AuditData\r\n'), true, 'the classic export header');
    assert.equal(head('RecordId,Creat', false), undefined, 'waits for the whole first line');
    assert.equal(head('[{"AuditData":1}', false), false, 'JSON is known from its first byte');
    assert.equal(head('\n  {"Operation":"AuditData"}\n'), false);
    assert.equal(head('Id,Operation\n'), false);
    assert.equal(head(''), false);
  });

  it('keeps a line break inside a quoted field in its row and counts lines for the rows after it', async () => {
    const [a, b] = [records[0]!, records[1]!];
    const pretty = csvField(JSON.stringify(b, null, 2)); // JSON whitespace may be raw line breaks
    const csv = [header, rowOf(a).replace(/,,$/, `,,${csvField('Unit one\r\nUnit two')}`), `${b.Id},"",,,,${pretty},,`, rowOf(records[2]!), ''].join('\r\n');
    const newlinesInB = JSON.stringify(b, null, 2).split('\n').length - 1;
    const items = [];
    for await (const batch of readPurviewCsv(chunked(Buffer.from(csv)))) items.push(...batch);
    assert.deepEqual(items.map((i) => i.kind), ['record', 'record', 'record']);
    assert.deepEqual(items.map((i) => i.line), [2, 4, 5 + newlinesInB]);
    const { lines } = await decodeAll(Buffer.from(csv));
    assert.deepEqual(lines, [a, b, records[2]!].map((r) => formatLine(decodeRecord(r))));
  });

  it('reports a broken row with its line number and byte offset, and decodes the rows around it', async () => {
    const good = records.slice(0, 4).map(rowOf);
    const broken = rowOf(records[4]!).replace(/}",,$/, '",,'); // AuditData cut short
    const stray = `x,"a"b,1,Op,u,"{}",,`; // text after a closing quote
    const rows = [header, good[0]!, broken, good[1]!, stray, good[2]!, '', good[3]!];
    const bytes = Buffer.from(rows.join('\r\n') + '\r\n');
    const { lines, invalid } = await decodeAll(bytes);
    assert.equal(lines.length, 4);
    assert.deepEqual(invalid.map((p) => p.line), [3, 5]);
    assert.match(invalid[0]!.reason, /^invalid AuditData JSON/);
    assert.match(invalid[1]!.reason, /after the closing quote of column 2/);
    assert.equal(invalid[0]!.offset, Buffer.byteLength(`${header}\r\n${good[0]!}\r\n`));
    const cut = good[1]!.slice(0, good[1]!.indexOf('"{') + 5); // inside AuditData, after a doubled quote
    const truncated = await decodeAll(Buffer.from([header, good[0]!, cut].join('\r\n')));
    assert.equal(truncated.lines.length, 1);
    assert.deepEqual(truncated.invalid.map((p) => [p.line, p.reason]), [[3, 'input ended inside a quoted field (truncated)']]);
  });

  it('reports an over-long row (an unterminated quote cannot take all memory) and goes on', async () => {
    const rows = records.slice(0, 3).map(rowOf);
    const limit = Math.min(...rows.map((r) => Buffer.byteLength(r))) + 2; // CRLF included
    const bytes = Buffer.from([header, ...rows, ''].join('\r\n'));
    const found = [];
    for await (const batch of readPurviewCsv(chunked(bytes, [100, 700, 1500]), limit)) found.push(...batch);
    const fits = rows.map((r) => Buffer.byteLength(r) + 2 <= limit);
    assert.ok(fits.includes(false) && fits.includes(true), 'the test rows straddle the limit');
    assert.deepEqual(found.map((f) => f.kind === 'record'), fits);
    for (const f of found) if (f.kind === 'invalid') assert.equal(f.reason, `row longer than ${limit} bytes`);
  });

  it('gives the same lines and problems wherever the chunks are cut', async () => {
    const broken = Buffer.from(
      exportBytes.toString('utf8').replace('\r\n', `\r\n${rowOf(records[5]!).replace('"{', '"{]')}\r\nx,"q""\r\n""",1,Op,u,"{}",,\r\n`),
    );
    const whole = await decodeAll(broken);
    assert.equal(whole.lines.length, 11);
    assert.equal(whole.invalid.length, 1);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: broken.length - 1 }), { maxLength: 40 }), async (cuts) => {
        assert.deepEqual(await decodeAll(broken, cuts), whole);
      }),
      { numRuns: 150 },
    );
    const bytewise = await decodeAll(broken, Array.from({ length: broken.length }, (_, i) => i));
    assert.deepEqual(bytewise, whole);
  });

  it('fills what AuditData lacks from the columns, reading both CreationDate forms', async () => {
    assert.equal(exportCreationTime('2024-05-14T08:03:11.0000000Z '), '2024-05-14T08:03:11');
    assert.equal(exportCreationTime('2024-05-14T08:03:11.1230000Z'), '2024-05-14T08:03:11.1230000');
    assert.equal(exportCreationTime('9/20/2023 4:05:03 AM'), '2023-09-20T04:05:03');
    assert.equal(exportCreationTime('9/20/2023 12:05:03 AM'), '2023-09-20T00:05:03');
    assert.equal(exportCreationTime('12/1/2023 4:05:03 PM'), '2023-12-01T16:05:03');
    assert.equal(exportCreationTime('someday'), 'someday');
    const csv = [
      'CreationDate,UserIds,Operations,AuditData',
      `9/20/2023 4:05:03 PM,ann@contoso.com,FileAccessed,"{""RecordType"":6,""Workload"":""SharePoint""}"`,
      `"2024-05-14T08:03:11.0000000Z ",x@contoso.com,Other,"{""CreationTime"":""2024-05-14T09:00:00"",""Operation"":""FileDeleted"",""UserId"":""bo@contoso.com""}"`,
    ].join('\r\n');
    const { lines } = await decodeAll(Buffer.from(csv));
    assert.match(lines[0]!, /^2023-09-20T16:05:03 Azure Event Log: SharePoint FileAccessed: .* User_name: ann@contoso.com,/);
    assert.match(lines[1]!, /^2024-05-14T09:00:00 Azure Event Log: no_workload FileDeleted: .* User_name: bo@contoso.com,/, 'AuditData wins');
  });

  it('splits rows per RFC 4180', () => {
    assert.deepEqual(splitCsvRow('a,"b,c","d""e",,""'), { fields: ['a', 'b,c', 'd"e', '', ''] });
    assert.deepEqual(splitCsvRow('a,'), { fields: ['a', ''] });
    assert.deepEqual(splitCsvRow('"x'), { error: 'unterminated quoted field in column 1' });
  });
});

describe('o365-relay decode with a Purview export', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'o365-purview-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');

  it('prints the lines, and for a broken row exits 2 naming its line', () => {
    const ok = spawnSync(process.execPath, [cli, 'decode', exportFile], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim().split('\n').length, 10);
    const file = path.join(work, 'broken.csv.gz');
    writeFileSync(file, gzipSync(Buffer.from(exportBytes.toString('utf8').replace(/(\r\n[^\r]*\r\n[^\r]*)}",,/, '$1",,'))));
    const bad = spawnSync(process.execPath, [cli, 'decode', file], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stdout.trim().split('\n').length, 9);
    assert.match(bad.stderr, /broken\.csv\.gz: line 3, byte \d+: invalid AuditData JSON/);
  });
});
