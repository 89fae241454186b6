// nesting.ts: the depth cap every record goes through, and the serializer that must not overflow.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cutNesting, jsonText, maxNestingDepth, nestsDeeperThan } from '../shared/records/nesting';

/** `levels` arrays around 1, built without recursion. */
function nestedArrays(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
function nestedObjects(levels: number, key = 'a'): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = { [key]: v }; // a computed key is an own property, even '__proto__'
  return v;
}

describe('record nesting', () => {
  it('jsonText writes what JSON.stringify writes, prototype-named keys included', () => {
    const keyed = fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'a', ''), fc.jsonValue({ maxDepth: 2 }));
    const value = fc.oneof(fc.jsonValue({ maxDepth: 6 }), keyed.map((d) => JSON.parse(JSON.stringify(d)) as unknown));
    fc.assert(fc.property(value, (v) => assert.equal(jsonText(v), JSON.stringify(v))), { numRuns: 2000 });
    assert.equal(jsonText(JSON.parse('{"__proto__":{"x":[1,{"y":null}]},"b":-0}')), '{"__proto__":{"x":[1,{"y":null}]},"b":0}');
    assert.equal(jsonText([undefined, { a: undefined, b: 1 }]), '[null,{"b":1}]');
  });

  it('jsonText writes 100,000 levels, where JSON.stringify overflows', () => {
    for (const deep of [nestedArrays(100_000), nestedObjects(100_000)]) {
      assert.throws(() => JSON.stringify(deep), RangeError);
      const text = jsonText(deep);
      assert.ok(text.length > 200_000);
      assert.ok(text.startsWith('[[[[') || text.startsWith('{"a":{"a":'));
    }
    assert.equal(jsonText(nestedArrays(3)), '[[[1]]]');
  });

  it('nestsDeeperThan counts containers, the value itself included', () => {
    assert.equal(nestsDeeperThan(1, 0), false);
    assert.equal(nestsDeeperThan([], 0), true);
    assert.equal(nestsDeeperThan(nestedArrays(64), 64), false);
    assert.equal(nestsDeeperThan(nestedArrays(65), 64), true);
    assert.equal(nestsDeeperThan(nestedObjects(65), 64), true);
    assert.equal(nestsDeeperThan(nestedArrays(100_000), 64), true);
    assert.equal(nestsDeeperThan({ a: [1, 2, { b: 'x' }], c: null }, 3), false);
    assert.equal(nestsDeeperThan(JSON.parse('{"__proto__":[[[]]]}'), 3), true);
  });

  it('cutNesting keeps the value when it fits and copies only the path to a cut', () => {
    const fits = { a: nestedArrays(maxNestingDepth - 1), b: 'x' };
    const errors: string[] = [];
    assert.equal(cutNesting(fits, errors), fits);
    assert.deepEqual(errors, []);

    const sibling = { keep: [1, 2] };
    const record = JSON.parse('{"__proto__":null,"Id":"r"}') as Record<string, unknown>;
    record.sibling = sibling;
    record.__proto__deep = nestedObjects(100_000, 'k'); // a name next to __proto__, to see the own __proto__ kept
    const cut = cutNesting(record, errors) as Record<string, unknown>;
    assert.notEqual(cut, record);
    assert.equal(cut.sibling, sibling, 'untouched subtrees are shared, not copied');
    assert.ok(Object.hasOwn(cut, '__proto__') && cut['__proto__'] === null, 'an own __proto__ field stays a field');
    assert.equal(Object.getPrototypeOf(cut), Object.prototype);
    assert.equal(errors.length, 1);
    assert.equal(errors[0], `__proto__deep${'.k'.repeat(maxNestingDepth - 1)}: nested deeper than ${maxNestingDepth} levels; kept as JSON text`);
    assert.equal(nestsDeeperThan(cut, maxNestingDepth), false);
    const text = JSON.stringify(cut); // does not overflow any more
    assert.ok(text.includes('\\"k\\":'), 'the cut subtree is its JSON text');
    assert.ok(Object.hasOwn(record.__proto__deep as object, 'k'), 'the input is not modified');

    const arrays: string[] = [];
    const wide = [1, nestedArrays(70), 'x', nestedArrays(70)];
    const cutWide = cutNesting(wide, arrays, 8) as unknown[];
    assert.deepEqual(arrays.map((e) => e.split(':')[0]), [`1${'.0'.repeat(7)}`, `3${'.0'.repeat(7)}`]);
    assert.equal(cutWide[0], 1);
    assert.equal(cutWide[2], 'x');
  });
});
