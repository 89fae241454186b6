// The PowerShell-form parameter reader: what real records carry, what it refuses, and that it is total, linear
// and gives back what a generated parameter text was made from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePowerShellParameters, type PowerShellParameter } from '../shared/records/powershell-parameters';
import { byProfile } from './support/suite-profile';

const runs = byProfile({ ci: 3_000, long: 30_000 });
const parse = parsePowerShellParameters;

describe('PowerShell-form parameters', () => {
  it('reads the forms real records carry', () => {
    assert.deepEqual(parse('-Identity "Yzk2YzQ1OTYtMzNkZi00OTZmLWFmZGEtMGRlNzQzMzllMzk30"'), [
      { Name: 'Identity', Value: 'Yzk2YzQ1OTYtMzNkZi00OTZmLWFmZGEtMGRlNzQzMzllMzk30' },
    ]);
    assert.deepEqual(parse('-Name "BEC sweep" -ExchangeLocation "All" -ContentMatchQuery "subject:\\"remittance details\\" AND received>=2024-05-13"'), [
      { Name: 'Name', Value: 'BEC sweep' },
      { Name: 'ExchangeLocation', Value: 'All' },
      { Name: 'ContentMatchQuery', Value: 'subject:"remittance details" AND received>=2024-05-13' },
    ]);
    assert.deepEqual(parse('-SearchName "s1" -Export -Format FxStream -Scope:IndexedItemsOnly'), [
      { Name: 'SearchName', Value: 's1' },
      { Name: 'Export', Value: 'True' },
      { Name: 'Format', Value: 'FxStream' },
      { Name: 'Scope', Value: 'IndexedItemsOnly' },
    ]);
    assert.deepEqual(parse('  -Flag:$true -Off:$false -Gone $null -Days -1 -List "a","b" , \'c\'\r\n'), [
      { Name: 'Flag', Value: 'True' },
      { Name: 'Off', Value: 'False' },
      { Name: 'Gone', Value: '' },
      { Name: 'Days', Value: '-1' },
      { Name: 'List', Value: ['a', 'b', 'c'] },
    ]);
    assert.deepEqual(parse('-Other (Get-Mailbox -Filter "x -eq \')\'") -Hash @{Add="a"} -Arr @("x", (1))'), [
      { Name: 'Other', Value: '(Get-Mailbox -Filter "x -eq \')\'")' },
      { Name: 'Hash', Value: '@{Add="a"}' },
      { Name: 'Arr', Value: '@("x", (1))' },
    ]);
    assert.deepEqual(parse('-Q "say ""hi"" `n`"x`""'), [{ Name: 'Q', Value: 'say "hi" \n"x"' }]);
    assert.deepEqual(parse("-Q 'it''s'"), [{ Name: 'Q', Value: "it's" }]);
    assert.deepEqual(parse('-__proto__ "x" -constructor y'), [
      { Name: '__proto__', Value: 'x' },
      { Name: 'constructor', Value: 'y' },
    ]);
  });

  it('refuses text that is not parameters and nothing else (the caller keeps it verbatim)', () => {
    for (const text of [
      '',
      '   ',
      'Identity=x',
      'Set-Mailbox -Identity x',
      '-Name "unterminated',
      "-Name 'unterminated",
      '-Name (unbalanced',
      '-Name (a]',
      '-Name a)',
      '-Name "x"y',
      '-Name "a",',
      '-Name x -',
      '-1 -Name x',
      '-Name"glued"',
      '{"Name":"x"}',
    ]) {
      assert.equal(parse(text), undefined, JSON.stringify(text));
    }
  });

  it('never throws and gives pairs of names and string values, on any text', () => {
    const token = fc.constantFrom('-', '-a', '-Name', ' ', '  ', '"', "'", '""', "''", '(', ')', '@(', '@{', '}', '[', ']', ',', '`', '\\"', ':', '$true', '$null', 'x', '\r\n', '\u2028', '\ud800');
    const texts = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(token, { maxLength: 60 }).map((t) => t.join('')));
    fc.assert(
      fc.property(texts, (text) => {
        const pairs = parse(text);
        if (pairs === undefined) return;
        assert.ok(pairs.length > 0);
        for (const p of pairs) {
          assert.match(p.Name, /^[A-Za-z_][A-Za-z0-9_]*$/);
          const values = Array.isArray(p.Value) ? p.Value : [p.Value];
          for (const v of values) assert.equal(typeof v, 'string');
        }
      }),
      { numRuns: runs },
    );
  });

  it('gives back the pairs a generated parameter text was written from', () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
    const text = fc.string({ unit: 'binary', maxLength: 30 });
    const quoted = (s: string, style: 'double' | 'single') =>
      style === 'single' ? `'${s.replaceAll("'", "''")}'` : `"${s.replace(/[`"\\]/g, (c) => (c === '"' ? '""' : `\`${c}`))}"`;
    const bareWord = fc.stringMatching(/^[A-Za-z0-9_.@][A-Za-z0-9_.@:/]{0,15}$/);
    const single = fc.oneof(
      fc.tuple(text, fc.constantFrom('double' as const, 'single' as const)).map(([s, style]) => ({ value: s, written: quoted(s, style) })),
      bareWord.map((w) => ({ value: w, written: w })),
    );
    const list = fc.array(single, { minLength: 2, maxLength: 4 }).chain((items) =>
      fc.constantFrom(',', ', ', ' , ').map((sep) => ({ value: items.map((i) => i.value), written: items.map((i) => i.written).join(sep) })),
    );
    const parameter = fc.tuple(name, fc.oneof(single, list, fc.constant(undefined)), fc.boolean()).map(([n, v, colon]) => ({
      pair: { Name: n, Value: v === undefined ? 'True' : v.value } as PowerShellParameter,
      written: v === undefined ? `-${n}` : `-${n}${colon ? ':' : ' '}${v.written}`,
    }));
    fc.assert(
      fc.property(fc.array(parameter, { minLength: 1, maxLength: 8 }), fc.constantFrom(' ', '  ', '\t', ' \r\n '), (params, gap) => {
        const written = params.map((p) => p.written).join(gap);
        assert.deepEqual(parse(written), params.map((p) => p.pair), written);
      }),
      { numRuns: runs },
    );
  });

  it('takes time linear in the length, on the inputs that make naive readers quadratic', () => {
    // One pass by construction (the index only moves forward); this measures it: 8x the text must cost far less
    // than the 64x a quadratic reader would need.
    const shapes: Array<(n: number) => string> = [
      (n) => '-a '.repeat(n),
      (n) => `-a "${'""'.repeat(n)}`, // unterminated after a long run of doubled quotes
      (n) => `-a ${'('.repeat(n)}`,
      (n) => `-a ${'@('.repeat(n)}${')'.repeat(n)}`,
      (n) => `-a ${'"x",'.repeat(n)}"y"`,
      (n) => `-a ${' '.repeat(n)},`,
      (n) => `-a x${' '.repeat(n)}y`,
      (n) => '-a `'.repeat(n),
    ];
    const best = (text: string) => {
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const start = performance.now();
        parse(text);
        ms = Math.min(ms, performance.now() - start);
      }
      return ms;
    };
    for (const shape of shapes) {
      const small = best(shape(20_000));
      const large = best(shape(160_000));
      assert.ok(large < Math.max(small, 1) * 24, `${shape(2)}…: ${small.toFixed(2)} ms for 20k units, ${large.toFixed(2)} ms for 160k`);
    }
  });
});
