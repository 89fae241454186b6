// Every template in infra/ passes ../shared/tools/bicep-check: it parses with the Bicep grammar, every resource body
// and property read fits the resource type definitions the Bicep compiler uses, and a Flex Consumption site sets
// nothing the plan rejects or ignores. This is as far as a check can go here without the compiler and Azure.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot, sharedDir } from './support/fixtures';

const checker = path.join(sharedDir, 'tools', 'bicep-check', 'check.cjs');
const templates = readdirSync(path.join(repoRoot, 'infra')).filter((f) => f.endsWith('.bicep')).map((f) => path.join('infra', f));

/** Runs the checker from the project root (it loads the grammar from the project's own node_modules). */
function bicepCheck(files: readonly string[]): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [checker, ...files], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

const scratch = mkdtempSync(path.join(tmpdir(), 'infra-check-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a template with one edit, in a scratch folder. */
function mutated(file: string, from: string, to: string): string {
  const text = readFileSync(path.join(repoRoot, file), 'utf8');
  assert.ok(text.includes(from), `${file} contains ${JSON.stringify(from)}`);
  const copy = path.join(scratch, `${path.basename(file, '.bicep')}-${readdirSync(scratch).length}.bicep`);
  writeFileSync(copy, text.replace(from, to));
  return copy;
}

describe('infra templates pass the Bicep check', () => {
  it('finds the checker and both templates', () => {
    assert.ok(existsSync(checker), `${checker} (../shared/tools/bicep-check) is there`);
    assert.deepEqual([...templates].sort(), ['infra/main.bicep', 'infra/sentinel-table.bicep']);
  });

  it('reports 0 problems in infra/*.bicep', () => {
    const { status, out } = bicepCheck(templates);
    assert.equal(status, 0, out);
    assert.match(out, new RegExp(`bicep-check: ${templates.length} file\\(s\\), 0 problem\\(s\\)`));
  });

  // The check has teeth on the mistakes this project made before.
  it('fails on ftpsState on the Flex site (the deployment would fail)', () => {
    const copy = mutated('infra/main.bicep', "      minTlsVersion: '1.2'\n      http20Enabled: true", "      minTlsVersion: '1.2'\n      ftpsState: 'Disabled'\n      http20Enabled: true");
    const { status, out } = bicepCheck([copy]);
    assert.equal(status, 1, out);
    assert.match(out, /flexSite: properties\.siteConfig\.ftpsState is not supported on Flex Consumption/);
  });

  it('fails on an app setting Flex Consumption refuses, given to the Flex site', () => {
    const copy = mutated('infra/main.bicep', "  O365_LOG_LEVEL: logLevel\n", "  O365_LOG_LEVEL: logLevel\n  FUNCTIONS_WORKER_RUNTIME: 'node'\n");
    const { status, out } = bicepCheck([copy]);
    assert.equal(status, 1, out);
    assert.match(out, /flexAppSettings: app setting FUNCTIONS_WORKER_RUNTIME is not supported on Flex Consumption/);
  });

  it('fails on a table retention outside the type\'s range', () => {
    const copy = mutated('infra/sentinel-table.bicep', "    plan: 'Analytics'\n", "    plan: 'Analytics'\n    retentionInDays: -1\n");
    const { status, out } = bicepCheck([copy]);
    assert.equal(status, 1, out);
    assert.match(out, /properties\.retentionInDays: -1 is outside 4\.\.730/);
  });
});
