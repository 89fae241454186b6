// node dist/bench/filter.bench.js: worst-case filter cost. Records/s of compiled filters whose globs made the old
// backtracking regular expressions explode, on the texts that hurt them most (an 80-character Operation, a
// 2,000-character UserId), next to baselines measured in the same run on the same records: an exact-name rule
// (one Set lookup after case folding) and a plain toLowerCase() === comparison. The old regular expression is
// shown only on capped inputs (24 and 200 characters, one record each): on the full sizes it runs for minutes.
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { compileFilter, type FilterConfig, type RecordFilter } from '../shared/records/filters';

const seconds = Number(process.env.BENCH_SECONDS ?? 0.5);

/** Distinct strings with the same folded text, so nothing is served from one cached string. */
function caseVariants(text: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    Array.from(text, (ch, j) => ((i >> (j % 10)) & 1 ? ch.toUpperCase() : ch)).join(''),
  );
}

function records(field: 'Operation' | 'UserId', text: string): DecodedRecord[] {
  return caseVariants(text, 1024).map((value) =>
    decodeRecord({ RecordType: 1, Workload: 'Exchange', Operation: 'Set-Mailbox', UserId: 'nora@contoso.com', [field]: value }),
  );
}

/** Records/s of `filter` over `input`, best of two runs of `seconds` each; also how many it kept. */
function rate(filter: RecordFilter, input: readonly DecodedRecord[]): { perSecond: number; kept: number } {
  let best = 0;
  let kept = 0;
  for (let run = 0; run < 2; run++) {
    let done = 0;
    kept = 0;
    const started = performance.now();
    let elapsed = 0;
    while (elapsed < seconds * 1000) {
      for (const record of input) if (filter(record)) kept++;
      done += input.length;
      elapsed = performance.now() - started;
    }
    best = Math.max(best, done / (elapsed / 1000));
    kept = Math.round((kept / done) * input.length);
  }
  return { perSecond: best, kept };
}

interface Case {
  name: string;
  input: DecodedRecord[];
  field: 'Operation' | 'UserId';
  exact: string;
  adversarial: string[];
}

const longUser = '@.'.repeat(998) + 'xcom'; // many places for the old regex to try, no match
const longUserEndingCom = '@'.repeat(1996) + '.com'; // passes the anchored end, so the middle pieces scan it all
const cases: Case[] = [
  { name: '80-char Operation a...a', input: records('Operation', 'a'.repeat(80)), field: 'Operation', exact: 'Set-Mailbox', adversarial: ['*a*a*a*a*a*a*a*a*b'] },
  { name: '2,000-char UserId @.@.…xcom', input: records('UserId', longUser), field: 'UserId', exact: 'nora@contoso.com', adversarial: ['*@*.*.*.com'] },
  { name: '2,000-char UserId @@@…@.com', input: records('UserId', longUserEndingCom), field: 'UserId', exact: 'nora@contoso.com', adversarial: ['*@*.*.*.com'] },
  // The documented worst case: a middle piece with ? is searched naively, q comparisons per start.
  { name: '2,000-char UserId @@@…@.com, ?-piece q=18', input: records('UserId', longUserEndingCom), field: 'UserId', exact: 'nora@contoso.com', adversarial: ['*@@@@@@@@@@@@@@@@?x*'] },
];

const rule = (field: 'Operation' | 'UserId', values: string[]): FilterConfig =>
  field === 'Operation' ? { include: { operations: values } } : { include: { users: values } };
const fmt = (n: number) => Math.round(n).toLocaleString('en').padStart(12);

console.log(`filter worst cases (node ${process.version}, best of 2 x ${seconds} s per row, 1,024 distinct records each)`);
for (const c of cases) {
  const plain = c.exact.toLowerCase();
  const baselineEquals: RecordFilter = (r) => {
    const value = r.common[c.field];
    return typeof value === 'string' && value.toLowerCase() === plain;
  };
  const baseline = rate(baselineEquals, c.input);
  const exact = rate(compileFilter(rule(c.field, [c.exact])), c.input);
  const adversarial = rate(compileFilter(rule(c.field, c.adversarial)), c.input);
  console.log(`\n${c.name}`);
  const row = (label: string, m: { perSecond: number }, note = '') => console.log(`  ${label.padEnd(52)}${fmt(m.perSecond)} records/s${note}`);
  row(`baseline: toLowerCase() === '${c.exact}'`, baseline);
  row(`filter, exact-name rule '${c.exact}'`, exact);
  row(`filter, glob ${c.adversarial.join(',')}`, adversarial, `  (kept ${adversarial.kept})`);
  console.log(`  glob cost vs toLowerCase() ===: ${(baseline.perSecond / adversarial.perSecond).toFixed(1)}x`);
}

// The removed implementation, capped: one record each, on inputs far shorter than the real ones.
const oldRegex = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'is');
console.log('\nold backtracking regex (removed), capped inputs, one record each:');
for (const [glob, text, full] of [
  ['*a*a*a*a*a*a*a*a*b', 'a'.repeat(24), '80 chars: > 20 s, not run'],
  ['*@*.*.*.com', '@.'.repeat(100), '2,000 chars: tens of seconds, not run'],
] as const) {
  const started = performance.now();
  oldRegex(glob).test(text);
  console.log(`  ${glob.padEnd(20)} ${String(text.length).padStart(4)} chars: ${(performance.now() - started).toFixed(1).padStart(7)} ms per record   (${full})`);
}
