import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { recordTypesDocPath, renderRecordTypesDoc } from '../scripts/record-types-doc';
import enumTables from '../shared/records/enum-tables.json';
import { profileByRecordType } from '../shared/records/profiles';

describe('docs/record-types.md', () => {
  const rendered = renderRecordTypesDoc();

  it('is the page the profile tables generate (run npm run docs:record-types after changing them)', () => {
    assert.equal(readFileSync(recordTypesDocPath, 'utf8'), rendered);
  });

  it('has one row per documented RecordType and counts the ones with a dedicated profile', () => {
    const values = Object.keys(enumTables.recordType);
    for (const value of values) assert.match(rendered, new RegExp(`^\\| ${value} \\| `, 'm'));
    const dedicated = values.filter((v) => profileByRecordType.has(Number(v))).length;
    assert.ok(dedicated >= 50, `only ${dedicated} dedicated`);
    assert.ok(rendered.includes(`**${dedicated} of ${values.length} documented RecordTypes have a dedicated profile.**`));
    assert.match(rendered, /^\| 28 \| ThreatIntelligence \| defenderMail \| general \| `Verdict`, `DeliveryAction`/m);
  });
});
