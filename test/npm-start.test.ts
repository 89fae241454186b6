// `npm start`, the README's main command, as a newcomer runs it: with O365_TENANT_ID set (the README invites it)
// the demo content is that tenant's, every fixture record is printed, and nothing is dead-lettered in silence.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { repoRoot } from './support/fixtures';

const fixtures = path.join(repoRoot, '..', 'shared', 'fixtures', 'content');
const fixtureRecords = readdirSync(fixtures)
  .filter((f) => f.endsWith('.json'))
  .reduce((n, f) => n + (JSON.parse(readFileSync(path.join(fixtures, f), 'utf8')) as unknown[]).length, 0);

it('npm start with O365_TENANT_ID set prints every fixture record, and no loss line', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist', 'dev', 'start.js')], {
    cwd: repoRoot,
    env: { ...process.env, PORT: '0', O365_TENANT_ID: '0b8a6c3e-2f14-4d5a-9e7b-1c2d3e4f5a6b' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const auditLines = () => stdout.split('\n').filter((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d /.test(l)).length;
  try {
    for (const deadline = Date.now() + 100_000; auditLines() < fixtureRecords; await new Promise((r) => setTimeout(r, 200))) {
      if (child.exitCode !== null) assert.fail(`npm start ended (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) assert.fail(`${auditLines()} of ${fixtureRecords} lines printed; stderr: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 1500)); // a loss line would follow the deliveries within a poll or two
    assert.equal(auditLines(), fixtureRecords);
    assert.doesNotMatch(stderr, /\[(dead letter|refused|expired|poisoned|delivered-with-problems|dead-lettered)\]/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
  }
});
