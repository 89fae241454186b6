// Decoding is total: whatever a record holds, it yields exactly one line and never throws.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { toAuditEvent, type AuditEvent } from '../shared/records/event-json';
import { formatLine } from '../shared/records/line';
import { maxNestingDepth } from '../shared/records/nesting';
import { recordFixtureFiles } from './support/fixtures';
import { byProfile } from './support/suite-profile';

const runs = byProfile({ ci: 10_000, long: 100_000 });
const oddRuns = byProfile({ ci: 3_000, long: 30_000 });
const fixtureRecords = recordFixtureFiles().flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as unknown[]);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => v !== null && typeof v === 'object';

function assertOneLine(record: unknown): { decoded: DecodedRecord; line: string; event: AuditEvent; eventText: string } {
  const decoded = decodeRecord(record);
  const line = formatLine(decoded);
  assert.equal(typeof line, 'string');
  assert.doesNotMatch(line, /[\r\n\u2028\u2029]/);
  const event = toAuditEvent(decoded, line);
  assert.equal(event.line, line);
  const eventText = JSON.stringify(event);
  JSON.stringify(decoded.raw); // what the dead letter writes
  return { decoded, line, event, eventText };
}

/** Container levels of a value (the value itself is level 1), measured without recursion. */
function depthOf(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [v, level] = item;
    if (!isContainer(v)) continue;
    if (level > max) max = level;
    for (const inner of Array.isArray(v) ? v : Object.values(v)) stack.push([inner, level + 1]);
  }
  return max;
}

/** Sets a key as an own data property: `__proto__` too, as JSON.parse makes it. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// Values the feed is known to send in place of the expected ones.
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '<null>', 'True', '7', '-1', null, [], {}, '[1,2', '{"a":', 'x'.repeat(5000)),
);

// --- the catalogue of odd values -------------------------------------------------------------------------

/** Names every object inherits, and a few functions have: as keys and as values of what the decoder looks up. */
const prototypeNames = [...new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'length', 'name', 'call', 'apply', 'bind'])];
/** Fields whose value the decoder or the line looks something up by (a table, a Map, a rule set). */
const lookupFields = ['Workload', 'Operation', 'RecordType', 'UserType', 'LogonType', 'ResultStatus', 'UserId', 'ClientIP', 'CreationTime', 'ItemType', 'Id'];
/** {Name|Key, Value} lists, flattened by name into the event's fields and read by name by the line and highlights. */
const pairListFields = ['Parameters', 'ExtendedProperties', 'OperationProperties', 'DeviceProperties', 'ExtraProperties', 'ModifiedProperties'];

function nested(levels: number, wrap: (inner: unknown) => unknown): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < levels; i++) v = wrap(v);
  return v;
}
// Built once and shared: the decoder copies what it cuts and never changes its input (checked below).
const deep = {
  arrays5k: nested(5_000, (v) => [v]),
  objects5k: nested(5_000, (v) => ({ a: v })),
  protoObjects5k: nested(5_000, (v) => ({ ['__proto__']: v })), // a computed key is an own property
  arrays100k: nested(100_000, (v) => [v, 1]),
  objects100k: nested(100_000, (v) => ({ Name: 'x', Value: v })),
  justOver: nested(maxNestingDepth, (v) => [v]),
};
const prototypeKeyed = (): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  for (const name of prototypeNames) setOwn(o, name, name === '__proto__' ? { polluted: true } : name);
  return o;
};
const badTimes = ['2024-13-01T00:00:00', '2023-02-29T10:00:00', 'yesterday', '1 2 3', '', 'March 7', '2024-05-14 08:03:11', '2024-05-14T08:03:11.12345678', '9999-99-99T99:99:99', '2024-05-14T25:00:00Z'];
const goodTimes = ['2024-05-14T08:03:11', '2024-05-14T08:03:11.1234567', '2024-05-14T08:03:11Z', '2024-05-14T10:03:11+02:00', '2024-05-14T08:03'];

// Weighted so that a run meets a 100,000-level value about once in a hundred (each costs ~0.1 s to cut and check).
const odd = fc.oneof(
  { weight: 60, arbitrary: fc.constantFrom(...prototypeNames, ...prototypeNames.map((n) => `${n}.`)) },
  { weight: 30, arbitrary: fc.constant(null).map(prototypeKeyed) },
  { weight: 30, arbitrary: fc.constantFrom(...prototypeNames).map((n) => [{ Name: n, Value: n }, { Key: n, Value: { [n]: n } }, { Name: n, NewValue: n, OldValue: [n] }]) },
  { weight: 20, arbitrary: fc.constantFrom(deep.arrays5k, deep.objects5k, deep.protoObjects5k, deep.justOver) },
  { weight: 1, arbitrary: fc.constantFrom(deep.arrays100k, deep.objects100k) },
  { weight: 20, arbitrary: fc.constantFrom(`${'['.repeat(5_000)}1${']'.repeat(5_000)}`, `${'{"b":'.repeat(200)}1${'}'.repeat(200)}`) },
  { weight: 30, arbitrary: fc.constantFrom(...badTimes, ...goodTimes) },
  { weight: 30, arbitrary: fc.constantFrom(null, 0, -0, 1e308, -1, 2 ** 53 + 1, true, false, '', [], {}, [null], { Name: null }, '7', 'True') },
  { weight: 30, arbitrary: oddValue },
);

/** Picks the containers to inject into first, so no injected (shared) value is ever written into. */
function targetsOf(record: Record<string, unknown>, walks: number[][]): Array<Record<string, unknown> | unknown[]> {
  return walks.map((steps) => {
    let target: Record<string, unknown> | unknown[] = record;
    for (const step of steps) {
      const children: Array<Record<string, unknown> | unknown[]> = (Array.isArray(target) ? target : Object.values(target)).filter(isContainer);
      if (children.length === 0) break;
      target = children[step % children.length]!;
    }
    return target;
  });
}

const objects = fixtureRecords.filter(isObject);
const oneOfEachRecordType = [...new Map(objects.map((r) => [r.RecordType, r])).values()];
const oneOfEachProfile = [...new Map(objects.map((r) => [decodeRecord(r).profile.name, r])).values()];
const cutError = new RegExp(`: nested deeper than ${maxNestingDepth} levels; kept as JSON text$`);

/** What must hold for any record: total, one line, nothing deeper than the cap after the decoder, no field lost. */
function assertTotal(record: unknown): { decoded: DecodedRecord; event: AuditEvent } {
  const tooDeep = depthOf(record) > maxNestingDepth;
  const { decoded, event, eventText } = assertOneLine(record);
  const cuts = decoded.schemaErrors.filter((e) => cutError.test(e));
  if (tooDeep) {
    assert.ok(cuts.length > 0, 'a cut value is flagged in schemaErrors');
    assert.ok(depthOf(decoded.raw) <= maxNestingDepth, 'raw (what the dead letter and the event write) is cut too');
  } else {
    assert.deepEqual(cuts, []);
    assert.equal(decoded.raw, record, 'a record within the cap is not copied');
  }
  // The event adds one level (raw, fields); JSON text held in strings is parsed only within the cap.
  assert.ok(depthOf(JSON.parse(eventText)) <= maxNestingDepth + 1);
  assert.equal(Object.getPrototypeOf(event.fields), Object.prototype);
  if (isObject(record)) {
    for (const name of prototypeNames) {
      if (!Object.hasOwn(record, name)) continue;
      assert.ok(Object.hasOwn(decoded.record, name), `the field ${name} is kept`);
      assert.ok(Object.hasOwn(event.fields, name), `the field ${name} is in the event`);
    }
  }
  return { decoded, event };
}

describe('decoder fuzz', () => {
  it(`${runs} random JSON values never throw and give one line each`, () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => void assertOneLine(value)), { numRuns: runs });
  });

  it(`${runs} mutated fixture records never throw and give one line each`, () => {
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

  it('every prototype name, as a key and as the value of every looked-up field, decodes like any other name', () => {
    for (const record of oneOfEachRecordType) {
      for (const name of prototypeNames) {
        for (const value of [name, `${name}.`, name.toUpperCase()]) {
          for (const field of lookupFields) {
            const copy = structuredClone(record);
            copy[field] = value;
            const { event, decoded } = assertTotal(copy);
            if (field === 'Workload') assert.equal(event.workload, value);
            if (field === 'Operation') assert.ok(decoded.common.Operation === value && event.line.includes(` ${value}: `));
          }
        }
        for (const list of pairListFields) {
          const copy = structuredClone(record);
          copy[list] = [{ Name: name, Value: name }, { Key: name, Value: { [name]: [name] } }, { Name: name, NewValue: name, OldValue: name }];
          assertTotal(copy);
        }
        const keyed = structuredClone(record);
        const objectFields = Object.keys(keyed).filter((key) => isObject(keyed[key]));
        for (const key of objectFields) setOwn(keyed[key] as Record<string, unknown>, name, name);
        setOwn(keyed, name, { [name]: name });
        const { event } = assertTotal(keyed);
        for (const key of [...objectFields, name]) {
          const field = event.fields[key];
          assert.ok(isObject(field) && Object.hasOwn(field, name), `${name} kept inside ${key}`);
        }
      }
    }
    assertTotal(prototypeKeyed());
  });

  it('5,000 and 100,000 levels deep, in every field of every kind of record, are cut at the cap and flagged with their path', () => {
    const flaggedAt = (decoded: DecodedRecord, field: string, kind: string) => {
      const cut = decoded.schemaErrors.find((e) => cutError.test(e));
      assert.ok(cut?.startsWith(`${field}.`), `${kind} in ${field}: ${String(cut)}`);
    };
    for (const record of oneOfEachRecordType) {
      for (const kind of ['arrays5k', 'objects5k', 'protoObjects5k', 'justOver'] as const) {
        for (const field of [...Object.keys(record), 'Extra']) {
          const copy = structuredClone(record);
          copy[field] = deep[kind];
          const { decoded } = assertTotal(copy);
          if (kind !== 'justOver') flaggedAt(decoded, field, kind);
        }
      }
    }
    // 100,000 levels cost ~0.1 s each: once per line profile, in a field of its own and in a {Name, Value} list.
    for (const record of oneOfEachProfile) {
      for (const kind of ['arrays100k', 'objects100k'] as const) {
        flaggedAt(assertTotal({ ...record, Extra: deep[kind] }).decoded, 'Extra', kind);
        flaggedAt(assertTotal({ ...record, Parameters: [{ Name: 'P', Value: deep[kind] }] }).decoded, 'Parameters', kind);
      }
    }
    for (const value of Object.values(deep)) assertTotal(value); // not a record at all, and too deep
  });

  it(`${oddRuns} fixture records with catalogue values injected at random places never throw, and cut what is too deep`, () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...objects),
        fc.array(fc.tuple(fc.array(fc.nat(), { maxLength: 5 }), fc.nat(), odd), { minLength: 1, maxLength: 4 }),
        (record, injections) => {
          const copy: Record<string, unknown> = structuredClone(record);
          const targets = targetsOf(copy, injections.map(([walk]) => walk));
          injections.forEach(([, keyChoice, value], i) => {
            const target = targets[i]!;
            if (Array.isArray(target)) target[keyChoice % (target.length + 1)] = value;
            else {
              const keys = [...Object.keys(target), ...prototypeNames, ...lookupFields, ...pairListFields];
              setOwn(target, keys[keyChoice % keys.length]!, value);
            }
          });
          assertTotal(copy);
        },
      ),
      { numRuns: oddRuns },
    );
    assert.equal(depthOf(deep.objects5k), 5_000, 'the decoder did not change its input');
    assert.equal(depthOf(deep.arrays100k), 100_000);
  });

  it('record times use the API time parser: a bad CreationTime is flagged, kept in the line, and has no event time', () => {
    const record = objects.find((r) => r.RecordType === 1)!;
    for (const time of badTimes) {
      const { decoded, event } = assertTotal({ ...record, CreationTime: time });
      assert.equal(event.time, null, time);
      assert.ok(decoded.schemaErrors.includes('CreationTime: not an ISO 8601 date-time'), time);
      if (time !== '') assert.ok(event.line.startsWith(`${time} Azure Event Log: `), time);
    }
    for (const time of goodTimes) {
      const { decoded, event } = assertTotal({ ...record, CreationTime: time });
      assert.match(event.time ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/, time);
      assert.ok(!decoded.schemaErrors.some((e) => e.startsWith('CreationTime')), time);
    }
  });
});
