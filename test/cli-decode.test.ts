import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { fixturePath, repoRoot } from './support/fixtures';

const cli = path.join(repoRoot, 'dist', 'cli', 'main.js');
const run = (args: string[], input?: Buffer | string) => {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter((l) => l !== '') };
};
const work = mkdtempSync(path.join(tmpdir(), 'o365-decode-'));
after(() => rmSync(work, { recursive: true, force: true }));

const exchangeFile = fixturePath('content', 'Audit.Exchange.json');
const exchangeCount = (JSON.parse(readFileSync(exchangeFile, 'utf8')) as unknown[]).length;

describe('o365-relay decode', () => {
  it('prints one line per record of a content blob and exits 0', () => {
    const r = run(['decode', exchangeFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines.length, exchangeCount);
    assert.equal(r.stderr, '');
  });

  it('prints NDJSON events with --format json', () => {
    const r = run(['decode', '--format', 'json', fixturePath('content', 'DLP.All.json')]);
    assert.equal(r.code, 0, r.stderr);
    const events = r.lines.map((l) => JSON.parse(l) as { line: string; recordType: { name: string } });
    assert.equal(events.length, 7);
    assert.ok(events.every((e) => e.line.includes('Azure Event Log') && e.recordType.name !== ''));
  });

  it('reads gzip and standard input, detected by content', () => {
    const gz = path.join(work, 'blob.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(exchangeFile)));
    assert.equal(run(['decode', gz]).lines.length, exchangeCount);
    assert.equal(run(['decode', '-'], gzipSync(readFileSync(exchangeFile))).lines.length, exchangeCount);
  });

  it('applies filters: the mailbox-activity switch and includes', () => {
    const admin = run(['decode', '--exclude', 'exchangeMailboxActivity', exchangeFile]);
    assert.ok(admin.lines.length > 0 && admin.lines.every((l) => l.includes(': ExchangeAdmin,')));
    const rules = run(['decode', '--include', 'operation=*-InboxRule', exchangeFile]);
    assert.equal(rules.lines.length, 4);
  });

  it('exits 2 when some input is not a record, says where, and still prints the rest', () => {
    const ndjson = path.join(work, 'mixed.ndjson');
    writeFileSync(ndjson, '{"Id":"a","RecordType":1,"Operation":"Set-Mailbox"}\nnot json\n{"Id":"b","RecordType":2}\n{"Id":"c",');
    const r = run(['decode', ndjson]);
    assert.equal(r.code, 2);
    assert.equal(r.lines.length, 2);
    assert.match(r.stderr, /mixed\.ndjson: line 2, byte 52: not a JSON object: not json/);
    assert.match(r.stderr, /line 4, byte \d+: input ended inside a record/);
    assert.match(r.stderr, /could not be parsed as a record/);
  });

  it('prints every record of a blob with a constructor Workload and a 5,000-deep record among good ones, and exits 0', () => {
    const good = JSON.parse(readFileSync(exchangeFile, 'utf8')) as Array<Record<string, unknown>>;
    const deep = `${'['.repeat(5_000)}"bottom"${']'.repeat(5_000)}`;
    const odd = [
      JSON.stringify({ ...good[0], Id: 'proto-workload', Workload: 'constructor', Operation: '__proto__', RecordType: 999 }),
      `{"Id":"deep","RecordType":1,"CreationTime":"2024-05-14T08:03:11","Operation":"Set-Mailbox","Parameters":[{"Name":"Identity","Value":${deep}}]}`,
    ];
    const texts = good.map((r) => JSON.stringify(r));
    texts.splice(3, 0, odd[0]!);
    texts.splice(7, 0, odd[1]!);
    const blob = path.join(work, 'odd-blob.json');
    writeFileSync(blob, `[${texts.join(',')}]`);

    const lines = run(['decode', blob]);
    assert.equal(lines.code, 0, lines.stderr);
    assert.equal(lines.lines.length, good.length + 2);
    assert.match(lines.lines[3]!, /^\S+ Azure Event Log: constructor __proto__: RecordType_999, /);
    assert.match(lines.lines[7]!, /^2024-05-14T08:03:11 Azure Event Log: no_workload Set-Mailbox: ExchangeAdmin, .*Parameters: Identity=\[\[\[/);
    assert.match(lines.stderr, /1 with schema errors/); // the deep one; a constructor Workload is just a name

    const json = run(['decode', '--format', 'json', blob]);
    assert.equal(json.code, 0, json.stderr);
    const events = json.lines.map((l) => JSON.parse(l) as { id: string; workload: string; schemaErrors?: string[]; raw: Record<string, unknown> });
    assert.deepEqual(events.map((e) => e.id), [...good.slice(0, 3), { Id: 'proto-workload' }, ...good.slice(3, 6), { Id: 'deep' }, ...good.slice(6)].map((r) => r.Id));
    assert.equal(events[3]!.workload, 'constructor');
    const deepEvent = events[7]!;
    assert.deepEqual(deepEvent.schemaErrors, [`Parameters.0.Value${'.0'.repeat(61)}: nested deeper than 64 levels; kept as JSON text`]);
    const kept = JSON.stringify(deepEvent.raw);
    assert.ok(kept.includes('[[[[') && kept.includes('bottom'), 'raw keeps the deep value, as JSON text below the cap');
  });

  it('exits 1 with a one-line message for usage errors and unreadable files', () => {
    for (const args of [['decode', path.join(work, 'missing.json')], ['decode', '--format', 'xml', exchangeFile], ['decode', '--include', 'colour=red', exchangeFile], ['nope']]) {
      const r = run(args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /^o365-relay: /);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});
