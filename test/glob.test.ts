import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileGlob, compileGlobs, foldCase, globMatches } from '../shared/records/glob';
import { compileFilter } from '../shared/records/filters';
import { decodeRecord } from '../shared/records/decode';

/**
 * The reference: the documented folding, then the textbook dynamic-programming table over code points
 * (dp[i][j]: the first i pattern characters match the first j text characters). Obviously correct, O(n·m).
 */
function reference(glob: string, text: string): boolean {
  const fold = (s: string) => Array.from(s.toLowerCase().replace(/ς/g, 'σ'));
  const p = fold(glob);
  const t = fold(text);
  let row = t.map(() => false);
  row.unshift(true);
  for (const pc of p) {
    const next = [pc === '*' && row[0]!];
    for (let j = 1; j <= t.length; j++) {
      next[j] = pc === '*' ? row[j]! || next[j - 1]! : row[j - 1]! && (pc === '?' || pc === t[j - 1]);
    }
    row = next;
  }
  return row[t.length]!;
}

// A small alphabet so that matches are frequent: case variants, both sigmas, the one character whose lower case
// is longer (İ), an astral character and lone surrogates (which pair up when adjacent), and the wildcards
// themselves (literal in a text).
const alphabet = ['a', 'A', 'b', 'B', '.', '@', '*', '?', 'Σ', 'σ', 'ς', 'İ', 'i', '\u0307', '😀', '\ud83d', '\ude00', '\n'];
const textOf = (maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((cs) => cs.join(''));

describe('glob matcher', () => {
  it('agrees with the reference on random globs and texts', () => {
    fc.assert(
      fc.property(textOf(10), textOf(16), (glob, text) => {
        assert.equal(globMatches(glob, text), reference(glob, text), `glob ${JSON.stringify(glob)} text ${JSON.stringify(text)}`);
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the reference on star-heavy globs over two letters (the backtracking cases)', () => {
    const glob = fc.array(fc.constantFrom('a', 'b', '*', '*', '?'), { maxLength: 14 }).map((cs) => cs.join(''));
    const text = fc.array(fc.constantFrom('a', 'A', 'b'), { maxLength: 30 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(glob, text, (g, t) => assert.equal(globMatches(g, t), reference(g, t), `glob ${g} text ${t}`)),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the reference through a filter mixing exact names and globs', () => {
    fc.assert(
      fc.property(fc.array(textOf(6).filter((g) => g !== ''), { minLength: 1, maxLength: 4 }), textOf(12), (globs, operation) => {
        const keep = compileFilter({ include: { operations: globs } });
        assert.equal(keep(decodeRecord({ Operation: operation })), globs.some((g) => reference(g, operation)));
      }),
      { numRuns: 3_000 },
    );
  });

  it('compileGlobs: any of several, exact names and globs, agrees with the reference', () => {
    fc.assert(
      fc.property(fc.array(textOf(6), { maxLength: 4 }), textOf(12), (globs, text) => {
        assert.equal(compileGlobs(globs)(text), globs.some((g) => reference(g, text)));
      }),
      { numRuns: 5_000 },
    );
  });

  it('matches the documented examples', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*-InboxRule', 'New-InboxRule', true],
      ['*-InboxRule', 'UpdateInboxRules', false],
      ['NORA.*@contoso.com', 'nora.lindqvist@CONTOSO.com', true],
      ['NORA.*@contoso.com', 'noraXlindqvist@contoso.com', false], // '.' is literal
      ['Set-Mailbox', 'set-mailbox', true],
      ['Set-Mailbox', 'Set-MailboxX', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['*', '', true],
      ['?', '', false],
      ['a*a', 'a', false], // first and last piece may not overlap
      ['*ab*ab*', 'abab', true],
      ['*ab*ab*', 'aba', false],
      ['a*\n*', 'a\nb', true], // * and ? cross line breaks, as the old 's' flag did
      ['?', '\n', true],
      ['?', '😀', true], // one character, not one UTF-16 unit
      ['??', '😀', false],
      ['İ', 'İ', true], // İ folds to i + U+0307: two characters
      ['İ', 'i\u0307', true],
      ['i?', 'İ', true],
      ['?', 'İ', false],
      ['ΟΔΟΣ', 'οδοσ', true], // final sigma read as sigma on both sides
      ['οδοσ', 'ΟΔΟΣ', true],
      ['ΟΔΟΣ*', 'οδοσ', true],
      ['*Σ', 'ΟΔΟς', true],
      ['Σ*', 'σα', true],
      ['straße', 'STRASSE', false], // no full case folding
      ['*a*a*a*a*a*a*a*a*b', 'a'.repeat(80), false],
      ['*a*a*a*a*a*a*a*a*b', 'a'.repeat(80) + 'B', true],
      ['*@*.*.*.com', '@.'.repeat(1000), false],
      ['*@*.*.*.com', 'x@' + 'a.'.repeat(999) + 'COM', true],
    ];
    for (const [glob, text, expected] of cases) {
      assert.equal(globMatches(glob, text), expected, `${glob} ~ ${JSON.stringify(text.slice(0, 40))}`);
      assert.equal(reference(glob, text), expected, `reference: ${glob} ~ ${JSON.stringify(text.slice(0, 40))}`);
    }
  });

  it('says whether a glob has wildcards and folds case once', () => {
    assert.equal(compileGlob('Set-Mailbox').wildcard, false);
    assert.equal(compileGlob('Set-*').wildcard, true);
    assert.equal(compileGlob('Set-Mailbo?').wildcard, true);
    assert.equal(foldCase('ΟΔΟΣ Set-İ'), 'οδος set-i\u0307'); // ς is compared as σ by the matcher
    assert.equal(compileGlob('SET-*').matches('Set-Mailbox'), false, 'matches takes folded text');
    assert.equal(compileGlob('SET-*').matches(foldCase('Set-Mailbox')), true);
  });
});
