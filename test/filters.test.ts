import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { compileFilter, type FilterConfig } from '../shared/records/filters';
import { readFixture } from './support/fixtures';

const exchange = readFixture<unknown[]>('content', 'Audit.Exchange.json').map(decodeRecord);
const kept = (filter: ReturnType<typeof compileFilter>, records: DecodedRecord[], contentType?: string) =>
  records.filter((r) => filter(r, { contentType }));

describe('filters', () => {
  it('keeps everything by default', () => {
    assert.equal(kept(compileFilter(), exchange).length, exchange.length);
  });

  it('exchangeMailboxActivity: false drops item, item group and aggregated records and keeps admin', () => {
    const left = kept(compileFilter({ exchangeMailboxActivity: false }), exchange);
    assert.deepEqual([...new Set(left.map((r) => r.common.RecordType))], [1]);
    assert.equal(left.length, exchange.filter((r) => r.common.RecordType === 1).length);
  });

  it('includes by RecordType name or number and operation glob, excludes by user', () => {
    const inboxRules = compileFilter({ include: { recordTypes: ['exchangeadmin'], operations: ['*-InboxRule'] } });
    const ops = kept(inboxRules, exchange).map((r) => r.common.Operation);
    assert.deepEqual([...new Set(ops)].sort(), ['New-InboxRule', 'Remove-InboxRule', 'Set-InboxRule']);
    assert.equal(kept(compileFilter({ include: { recordTypes: [50] } }), exchange).length, 4);
    const noNora = kept(compileFilter({ exclude: { users: ['NORA.*@contoso.com'] } }), exchange);
    assert.ok(noNora.length > 0 && noNora.every((r) => !String(r.common.UserId).startsWith('nora')));
  });

  it('filters by content type from the context', () => {
    const onlyGeneral = compileFilter({ include: { contentTypes: ['Audit.General'] } });
    assert.equal(kept(onlyGeneral, exchange, 'Audit.Exchange').length, 0);
    assert.equal(kept(onlyGeneral, exchange, 'Audit.General').length, exchange.length);
  });

  it('refuses unknown RecordType names and unknown keys', () => {
    assert.throws(() => compileFilter({ include: { recordTypes: ['NoSuchType'] } }), /NoSuchType/);
    assert.throws(() => compileFilter({ include: { color: ['red'] } } as never));
  });

  it('an odd record among good ones costs only itself: nothing throws, the good ones are kept exactly as expected', () => {
    const prototypeNames = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    // The odd values are set in the typed view directly, so this tests the filters alone (decodeRecord has its own).
    const withCommon = (common: unknown) => ({ ...decodeRecord({}), common }) as unknown as DecodedRecord;
    const odd: DecodedRecord[] = [
      ...prototypeNames.map((name) => withCommon({ RecordType: name, Workload: name, Operation: name, UserId: name })),
      ...prototypeNames.map((name) => withCommon({ RecordType: 1, Workload: name, Operation: name, UserId: name })),
      withCommon(JSON.parse('{"__proto__": {"RecordType": 1, "Operation": "New-InboxRule"}, "Workload": "__proto__"}')),
      withCommon({ RecordType: null, Workload: null, Operation: 42, UserId: { Name: 'x' } }),
      withCommon({ RecordType: '1', Workload: 3, Operation: ['Set-Mailbox'], UserId: 7 }),
      withCommon({ RecordType: Number.NaN, Operation: true, UserId: '' }),
      withCommon(Object.create(null)),
      withCommon(null),
      decodeRecord(null),
      decodeRecord(7),
      decodeRecord({ RecordType: 'x', Operation: 42, UserId: null }),
    ];
    const configs: Array<[FilterConfig, (r: DecodedRecord) => boolean]> = [
      [{ include: { recordTypes: ['ExchangeAdmin'], operations: ['*-InboxRule'] } }, (r) => r.common.RecordType === 1 && /-inboxrule$/i.test(String(r.common.Operation))],
      [{ include: { workloads: ['exchange'], users: ['nora.*'] } }, (r) => String(r.common.UserId).startsWith('nora.')],
      [{ exclude: { operations: ['Set-Mailbox', 'MailItems*'], users: ['*system*'] } }, (r) => !/^(set-mailbox|mailitems.*)$/i.test(String(r.common.Operation)) && !/system/i.test(String(r.common.UserId))],
      [{ exchangeMailboxActivity: false }, (r) => r.common.RecordType === 1],
      [{ highlightedOnly: true, include: { contentTypes: ['Audit.Exchange'] } }, (r) => compileFilter({ highlightedOnly: true })(r)],
    ];
    for (const [config, expected] of configs) {
      const filter = compileFilter(config);
      const wanted = exchange.filter(expected);
      assert.ok(wanted.length > 0 && wanted.length < exchange.length, `config ${JSON.stringify(config)} selects some`);
      for (const position of [0, 7, exchange.length]) {
        const mixed = [...exchange.slice(0, position), ...odd, ...exchange.slice(position)];
        const passed = new Set(mixed.filter((r) => filter(r, { contentType: 'Audit.Exchange' })));
        assert.deepEqual(exchange.filter((r) => passed.has(r)), wanted, `config ${JSON.stringify(config)} at ${position}`);
      }
    }
    // A record whose values are prototype names is matched like any other text, not through an object's keys.
    assert.equal(compileFilter({ include: { workloads: ['constructor'] } })(odd[prototypeNames.length]!), true);
    assert.equal(compileFilter({ include: { workloads: ['toString'] } })(odd[prototypeNames.length]!), false);
  });
});
