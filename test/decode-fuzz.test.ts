// Decoding is total: whatever a record holds, it yields exactly one line and never throws.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeRecord } from '../shared/records/decode';
import { toAuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { recordFixtureFiles } from './support/fixtures';
import { byProfile } from './support/suite-profile';

const runs = byProfile({ ci: 10_000, long: 100_000 });
const fixtureRecords = recordFixtureFiles().flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as unknown[]);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function assertOneLine(record: unknown): void {
  const decoded = decodeRecord(record);
  const line = formatLine(decoded);
  assert.equal(typeof line, 'string');
  assert.doesNotMatch(line, /[\r\n\u2028\u2029]/);
  const event = toAuditEvent(decoded, line);
  assert.equal(event.line, line);
  JSON.stringify(event);
}

// Values the feed is known to send in place of the expected ones.
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '<null>', 'True', '7', '-1', null, [], {}, '[1,2', '{"a":', 'x'.repeat(5000)),
);

describe('decoder fuzz', () => {
  it(`${runs} random JSON values never throw and give one line each`, () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), assertOneLine), { numRuns: runs });
  });

  it(`${runs} mutated fixture records never throw and give one line each`, () => {
    const objects = fixtureRecords.filter(isObject);
    fc.assert(
      fc.property(
        fc.constantFrom(...objects),
        fc.array(fc.tuple(fc.nat(), oddValue), { minLength: 1, maxLength: 6 }),
        (record, mutations) => {
          const copy: Record<string, unknown> = structuredClone(record);
          const keys = Object.keys(copy);
          for (const [index, value] of mutations) copy[keys[index % keys.length]!] = value;
          assertOneLine(copy);
        },
      ),
      { numRuns: runs },
    );
  });
});
