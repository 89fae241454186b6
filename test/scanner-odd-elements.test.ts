// One odd element in a content blob costs only itself: the scanner hands on every good record around it, the odd
// one with its byte offset and text (or, over the size cap, in pieces it never holds), and tells input that was
// cut short apart from bad data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateRecords } from '../dev/record-generator';
import { decodeStream, type DecodedBatch } from '../shared/records/decode-stream';
import { RecordScanner, type ScanItem } from '../shared/records/scanner';

function scan(bytes: Buffer, cuts: number[] = [], cap?: number): { items: ScanItem[]; maxHeld: number } {
  const scanner = new RecordScanner(cap);
  const items: ScanItem[] = [];
  let maxHeld = 0;
  let from = 0;
  const push = (part: Buffer) => {
    const out: ScanItem[] = [];
    scanner.push(part, out);
    // Oversize pieces are views valid until the next push: copy them as a consumer would use them.
    items.push(...out.map((i) => (i.kind === 'oversize' ? { ...i, bytes: Buffer.from(i.bytes) } : i)));
    maxHeld = Math.max(maxHeld, scanner.heldBytes);
  };
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    push(bytes.subarray(from, cut));
    from = cut;
  }
  push(bytes.subarray(from));
  scanner.end(items);
  return { items, maxHeld };
}

const recordsOf = (items: ScanItem[]) => items.flatMap((i) => (i.kind === 'record' ? [JSON.parse(i.text) as unknown] : []));

/** The catalogue of odd elements (their text as they sit in the array) and what the scanner says about them. */
const oddElements: ReadonlyArray<{ name: string; text: string; reason: RegExp }> = [
  { name: 'a bare number', text: '42', reason: /not a JSON object: 42/ },
  { name: 'null', text: 'null', reason: /not a JSON object: null/ },
  { name: 'a string', text: '"Set-Mailbox"', reason: /not a JSON object/ },
  { name: 'a NaN literal inside a record', text: '{"Id":"x","Value":NaN}', reason: /invalid JSON/ },
  { name: 'a malformed record (trailing comma)', text: '{"Id":"x","RecordType":1,}', reason: /invalid JSON/ },
  { name: 'a record with a raw line break in a string', text: '{"Id":"x","Name":"a\nb"}', reason: /invalid JSON/ },
  { name: 'an array', text: '[1,{"Id":"x"}]', reason: /not a JSON object: an array/ },
  { name: 'single quotes and an Infinity', text: "{'Id':'x','Size':Infinity}", reason: /invalid JSON/ },
];

describe('RecordScanner: an odd element among good records', () => {
  for (const odd of oddElements) {
    it(`${odd.name}: every good record, the odd one with its offset and text, in any chunking`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.nat(), fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), async (count, at, cuts, pretty) => {
          const good = JSON.parse(JSON.stringify([...generateRecords(count, { seed: count })])) as unknown[]; // as JSON (no undefined fields)
          const position = at % (good.length + 1);
          const texts = good.map((r) => (pretty ? JSON.stringify(r, null, 2) : JSON.stringify(r)));
          const separator = pretty ? ',\n' : ',';
          const offset = Buffer.byteLength(`[${texts.slice(0, position).map((t) => t + separator).join('')}`);
          texts.splice(position, 0, odd.text);
          const bytes = Buffer.from(`[${texts.join(separator)}]`);
          const parts = cuts.map((c) => c % (bytes.length + 1));
          const { items } = scan(bytes, parts);
          assert.deepEqual(recordsOf(items.filter((i) => i.offset !== offset)), good);
          // Through the parser too: the record text is parsed per record, and a malformed one is reported, not thrown.
          const batches: DecodedBatch[] = [];
          for await (const batch of decodeStream((async function* () { let from = 0; for (const cut of [...new Set(parts)].sort((a, b) => a - b)) { yield bytes.subarray(from, cut); from = cut; } yield bytes.subarray(from); })())) batches.push(batch);
          const invalid = batches.flatMap((b) => b.invalid);
          assert.equal(invalid.length, 1, JSON.stringify(invalid));
          assert.equal(invalid[0]!.kind, 'bad');
          assert.equal(invalid[0]!.offset, offset);
          assert.equal(invalid[0]!.text, odd.text);
          assert.match(invalid[0]!.reason, odd.reason);
          assert.deepEqual(batches.flatMap((b) => b.records.map((r) => r.raw)), good);
        }),
        { numRuns: 60 },
      );
    });
  }

  it("an unexpected '}' at record level is its own one-byte span", () => {
    const { items } = scan(Buffer.from('[{"a":1}},{"b":2}]'));
    assert.deepEqual(recordsOf(items), [{ a: 1 }, { b: 2 }]);
    assert.deepEqual(items.filter((i) => i.kind !== 'record'), [{ kind: 'invalid', reason: "unexpected '}'", offset: 8, line: 1, text: '}' }]);
  });
});

describe('RecordScanner: input cut short is not bad data', () => {
  it('any proper prefix of a record array gives the records before the cut, then "truncated", and nothing invalid', () => {
    const good = JSON.parse(JSON.stringify([...generateRecords(6, { seed: 5 })])) as unknown[];
    const bytes = Buffer.from(JSON.stringify(good));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: bytes.length - 1 }), fc.array(fc.nat(), { maxLength: 6 }), (length, cuts) => {
        const prefix = bytes.subarray(0, length);
        const { items } = scan(prefix, cuts.map((c) => c % (length + 1)));
        const kinds = items.map((i) => i.kind);
        assert.deepEqual(kinds.filter((k) => k !== 'record'), ['truncated']);
        assert.equal(kinds.at(-1), 'truncated');
        assert.deepEqual(recordsOf(items), good.slice(0, recordsOf(items).length));
      }),
      { numRuns: 500 },
    );
  });

  it('a bare value at the end of an array that never closed is cut, not bad', () => {
    assert.deepEqual(scan(Buffer.from('[{"a":1},12')).items.map((i) => i.kind), ['record', 'truncated']);
    assert.deepEqual(scan(Buffer.from('{"a":1}\n12')).items.map((i) => i.kind), ['record', 'invalid'], 'NDJSON: the last line is complete');
  });
});

describe('RecordScanner: the record size cap', () => {
  const cap = 4096;
  const big = { Id: 'big', RecordType: 1, Blob: 'x'.repeat(3 * cap) };

  it('hands an element over the cap on in pieces (never holding more than the cap) and keeps the records around it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (position, cuts) => {
        const good = JSON.parse(JSON.stringify([...generateRecords(8, { seed: 21 })])) as unknown[];
        const texts = good.map((r) => JSON.stringify(r));
        const bigText = JSON.stringify(big);
        const offset = Buffer.byteLength(`[${texts.slice(0, position).map((t) => `${t},`).join('')}`);
        texts.splice(position, 0, bigText);
        const bytes = Buffer.from(`[${texts.join(',')}]`);
        const { items, maxHeld } = scan(bytes, cuts.map((c) => c % (bytes.length + 1)), cap);
        assert.deepEqual(recordsOf(items), good);
        assert.ok(maxHeld <= cap, `held ${maxHeld} bytes`);
        const pieces = items.filter((i) => i.kind === 'oversize');
        assert.ok(pieces.every((p) => p.offset === offset));
        assert.equal(Buffer.concat(pieces.map((p) => (p as { bytes: Buffer }).bytes)).toString(), bigText);
        const end = items.filter((i) => i.kind === 'oversize-end');
        assert.equal(end.length, 1);
        assert.equal((end[0] as { size: number }).size, Buffer.byteLength(bigText));
        assert.match((end[0] as { reason: string }).reason, /larger than O365_MAX_RECORD_BYTES \(4096\): \d+ bytes/);
        assert.equal(items.filter((i) => i.kind === 'invalid' || i.kind === 'truncated').length, 0);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws and never holds more than a tiny cap, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), fc.integer({ min: 1, max: 16 }), (bytes, cuts, tiny) => {
        const buf = Buffer.from(bytes);
        const { items, maxHeld } = scan(buf, cuts.map((c) => c % (buf.length + 1)), tiny);
        assert.ok(maxHeld <= tiny);
        for (const item of items) {
          assert.ok(item.offset >= 0 && item.offset <= buf.length);
          if (item.kind === 'record' || item.kind === 'invalid') assert.ok(Buffer.byteLength(item.text) <= tiny * 3 + 3, 'a kept text is within the cap'); // U+FFFD for broken UTF-8
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('an oversize element cut short ends as "truncated" after its pieces', () => {
    const bytes = Buffer.from(`[{"a":1},${JSON.stringify(big)}`).subarray(0, 3 * cap);
    const kinds = [...new Set(scan(bytes, [100, 2000, 5000, 9000], cap).items.map((i) => i.kind))];
    assert.deepEqual(kinds, ['record', 'oversize', 'truncated']);
  });
});
