import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecord, type DecodedRecord } from '../shared/records/decode';
import { compileFilter } from '../shared/records/filters';
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
});
