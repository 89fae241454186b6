// local.settings.example.json lists every setting the schema reads, and nothing else.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { apiSettingsSection, relaySettingsSection } from '../shared/config';
import { repoRoot } from './support/fixtures';

/** The setting names a section's object schema reads (under its refinements and transforms). */
function settingNames(schema: unknown): string[] {
  let s = schema as { shape?: Record<string, unknown>; in?: unknown; def?: { in?: unknown; schema?: unknown } };
  for (let depth = 0; depth < 5 && !s.shape; depth++) s = (s.in ?? s.def?.in ?? s.def?.schema) as typeof s;
  assert.ok(s.shape, 'found the object schema of the section');
  return Object.keys(s.shape);
}

describe('local.settings.example.json', () => {
  it('names every setting of the schema, and the schedules the triggers read', () => {
    const example = JSON.parse(readFileSync(path.join(repoRoot, 'local.settings.example.json'), 'utf8')) as { Values: Record<string, string> };
    const documented = new Set(Object.keys(example.Values));
    const read = new Set([...settingNames(apiSettingsSection), ...settingNames(relaySettingsSection), 'O365_RECONCILE_SCHEDULE', 'O365_KEEPER_SCHEDULE', 'O365_REDELIVER_SCHEDULE', 'O365_HEARTBEAT_SCHEDULE']);
    read.delete('WEBSITE_INSTANCE_ID'); // set by Azure itself
    documented.delete('FUNCTIONS_WORKER_RUNTIME'); // read by the Functions host
    assert.deepEqual([...read].filter((n) => !documented.has(n)), [], 'settings missing from the example');
    assert.deepEqual([...documented].filter((n) => !read.has(n)), [], 'example entries no setting reads');
  });

  it('every O365_ setting the schema reads is named in the README', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const read = [...settingNames(apiSettingsSection), ...settingNames(relaySettingsSection)].filter((n) => n.startsWith('O365_'));
    assert.deepEqual(read.filter((n) => !readme.includes(`\`${n}\``)), [], 'settings the README does not name');
  });
});
