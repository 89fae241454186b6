import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ApiTime, apiTimeIso, parseApiTime } from '../shared/api-time';

describe('API times: one parser', () => {
  it('reads the forms the API writes: no zone is UTC, Z, offsets, 0-7 fractional digits', () => {
    assert.equal(apiTimeIso('2022-09-04T21:54:47'), '2022-09-04T21:54:47.000Z');
    assert.equal(apiTimeIso('2015-06-04T19:03:31.213Z'), '2015-06-04T19:03:31.213Z');
    assert.equal(apiTimeIso('2024-01-02T03:04:05.1234567Z'), '2024-01-02T03:04:05.123Z');
    assert.equal(apiTimeIso('2024-01-02T03:04:05+02:00'), '2024-01-02T01:04:05.000Z');
    assert.equal(apiTimeIso('2024-01-02T03:04:05-0130'), '2024-01-02T04:34:05.000Z');
    assert.equal(apiTimeIso('2024-01-02T03:04'), '2024-01-02T03:04:00.000Z');
  });

  it('refuses what Date.parse would take and impossible dates', () => {
    for (const text of ['1 2 3', 'March 7, 2024', '2024-01-02', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2024-04-31T00:00:00',
      '2024-01-02T24:00:00Z', '2024-01-02T03:04:05.12345678Z', ' 2024-01-02T03:04:05Z', '', 'NaN', '2024-01-02T03:04:05Z\n']) {
      assert.equal(parseApiTime(text), undefined, text);
      assert.equal(ApiTime.safeParse(text).success, false, text);
    }
    for (const value of [null, 17, {}, ['2024-01-02T03:04:05Z']]) assert.equal(parseApiTime(value), undefined);
    assert.equal(parseApiTime('2024-02-29T00:00:00Z'), Date.UTC(2024, 1, 29));
    assert.equal(apiTimeIso('0050-01-02T03:04:05Z'), '0050-01-02T03:04:05.000Z');
  });

  it('agrees with Date for every instant it is given in canonical form', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1990-01-01Z'), max: new Date('2099-12-31Z'), noInvalidDate: true }), (date) => {
        assert.equal(parseApiTime(date.toISOString()), date.getTime());
        assert.equal(parseApiTime(date.toISOString().replace('Z', '')), date.getTime());
      }),
    );
  });
});
