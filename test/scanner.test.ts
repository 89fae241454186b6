import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RecordScanner, type ScanItem } from '../shared/records/scanner';
import { fixturePath, recordFixtureFiles } from './support/fixtures';

function scan(bytes: Buffer, cuts: number[] = []): ScanItem[] {
  const scanner = new RecordScanner();
  const out: ScanItem[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    scanner.push(bytes.subarray(from, cut), out);
    from = cut;
  }
  scanner.push(bytes.subarray(from), out);
  scanner.end(out);
  return out;
}

const records = (items: ScanItem[]) => items.filter((i) => i.kind === 'record').map((i) => JSON.parse((i as { text: string }).text) as unknown);

describe('RecordScanner', () => {
  for (const file of recordFixtureFiles()) {
    it(`finds exactly the records JSON.parse finds: ${file.split('/').slice(-2).join('/')}`, () => {
      const bytes = readFileSync(file);
      const items = scan(bytes);
      assert.deepEqual(items.filter((i) => i.kind === 'invalid'), []);
      assert.deepEqual(records(items), JSON.parse(bytes.toString('utf8')));
    });
  }

  it('splits arbitrary chunkings of a blob identically', () => {
    const bytes = readFileSync(fixturePath('edge', 'injection.json'));
    const whole = scan(bytes);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 40 }), (cuts) => {
        assert.deepEqual(scan(bytes, cuts), whole);
      }),
      { numRuns: 300 },
    );
  });

  it('reads any array of JSON objects, however they are spaced and chunked', () => {
    const objects = fc.array(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }), { maxLength: 8 });
    fc.assert(
      fc.property(objects, fc.boolean(), fc.array(fc.nat(), { maxLength: 10 }), (values, pretty, cuts) => {
        const bytes = Buffer.from(pretty ? JSON.stringify(values, null, 2) : JSON.stringify(values));
        const items = scan(bytes, cuts.map((c) => c % (bytes.length + 1)));
        assert.deepEqual(records(items), JSON.parse(bytes.toString('utf8')));
        assert.equal(items.length, values.length);
      }),
      { numRuns: 400 },
    );
  });

  it('reads NDJSON and a single object, with a BOM', () => {
    assert.deepEqual(records(scan(Buffer.from('{"a":1}\n{"b":"}"}\r\n\n{"c":[{}]}'))), [{ a: 1 }, { b: '}' }, { c: [{}] }]);
    assert.deepEqual(records(scan(Buffer.from('\ufeff{"a":"\\"x\\\\"}'))), [{ a: '"x\\' }]);
  });

  it('reports what is not a record with its byte offset and line, and keeps the rest', () => {
    const items = scan(Buffer.from('{"a":1}\n42\n{"b":"cut\n{"c":3}\n{"d":'));
    assert.deepEqual(records(items), [{ a: 1 }, { c: 3 }]);
    const invalid = items.filter((i) => i.kind !== 'record');
    assert.deepEqual(invalid.map((i) => [i.kind, i.offset, i.line]), [['invalid', 8, 2], ['invalid', 11, 3], ['truncated', 29, 5]]);
    assert.match((invalid[2] as { reason: string }).reason, /truncated/);
    const cutArray = scan(Buffer.from('[{"a":1},{"b":2}'));
    assert.deepEqual(records(cutArray), [{ a: 1 }, { b: 2 }]);
    assert.match((cutArray.at(-1) as { reason: string }).reason, /closing \]/);
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, cuts) => {
        const buf = Buffer.from(bytes);
        const items = scan(buf, cuts.map((c) => c % (buf.length + 1)));
        for (const item of items) assert.ok(item.offset >= 0 && item.offset <= buf.length);
      }),
      { numRuns: 1000 },
    );
  });
});
