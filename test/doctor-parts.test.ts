// The doctor's pure pieces: roles from a JWT payload, address scopes, the report and its exit code.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressScope } from '../cli/doctor-address';
import { exitCodeOf, formatReport, type CheckResult } from '../cli/doctor-report';
import { requiredRoles, rolesOfToken } from '../cli/doctor-roles';
import { auditLogVerdict } from '../cli/doctor-verdicts';

const jwt = (payload: unknown) => ['{"alg":"RS256"}', JSON.stringify(payload)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.c2ln';

describe('rolesOfToken', () => {
  it('reads the roles claim of a JWT without verifying it', () => {
    assert.deepEqual(rolesOfToken(jwt({ tid: 't', roles: ['ActivityFeed.Read', 'ActivityFeed.ReadDlp'] })), { kind: 'jwt', roles: ['ActivityFeed.Read', 'ActivityFeed.ReadDlp'] });
    assert.deepEqual(rolesOfToken(jwt({ tid: 't' })), { kind: 'jwt', roles: [] });
  });
  it('calls anything else opaque', () => {
    for (const token of ['abc', 'a.b', 'a.!!!.c', jwt({ roles: 'ActivityFeed.Read' }), jwt([1]), `${Buffer.from('x').toString('base64url')}.${Buffer.from('not json').toString('base64url')}.s`]) {
      assert.deepEqual(rolesOfToken(token), { kind: 'opaque' }, token);
    }
  });
  it('needs ActivityFeed.ReadDlp only for DLP.All', () => {
    assert.deepEqual(requiredRoles(['Audit.Exchange']), ['ActivityFeed.Read']);
    assert.deepEqual(requiredRoles(['Audit.Exchange', 'DLP.All']), ['ActivityFeed.Read', 'ActivityFeed.ReadDlp']);
  });
});

describe('addressScope', () => {
  const cases: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'], ['127.255.1.2', 'loopback'], ['::1', 'loopback'], ['::ffff:127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'], ['fd00::1', 'private'], ['fc12::1', 'private'],
    ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['172.15.255.255', 'public'], ['172.32.0.1', 'public'], ['20.190.128.1', 'public'], ['8.8.8.8', 'public'], ['2603:1030::1', 'public'], ['::ffff:8.8.8.8', 'public'],
  ];
  for (const [address, scope] of cases) it(`${address} is ${scope}`, () => assert.equal(addressScope(address), scope));
  it('refuses a host name', () => assert.throws(() => addressScope('example.com')));
});

describe('formatReport', () => {
  const results: CheckResult[] = [
    { name: 'settings', status: 'pass', detail: 'all settings valid' },
    { name: 'storage', status: 'fail', detail: 'not reachable: queue (ECONNREFUSED)', fix: 'check AzureWebJobsStorage' },
    { name: 'sink archive', status: 'skip', detail: 'storage is not reachable' },
  ];
  it('prints one aligned line per check, the fix under a failure, and a summary', () => {
    assert.equal(
      formatReport(results),
      [
        'pass  settings      all settings valid',
        'fail  storage       not reachable: queue (ECONNREFUSED)',
        '                    fix: check AzureWebJobsStorage',
        'skip  sink archive  storage is not reachable',
        '1 failed, 1 skipped, 1 passed',
        '',
      ].join('\n'),
    );
  });
  it('exits 0 only when everything passed', () => {
    assert.equal(exitCodeOf(results), 1);
    assert.equal(exitCodeOf([results[0]!]), 0);
    assert.equal(exitCodeOf([results[0]!, results[2]!]), 1);
    assert.match(formatReport([results[0]!]), /all 1 checks passed\n$/);
  });
});

describe('auditLogVerdict', () => {
  it('names permission, wrong tenant and auditing problems by code', () => {
    assert.match(auditLogVerdict('AF10001', undefined)?.meaning ?? '', /missing permission ActivityFeed\.Read or admin consent/);
    assert.match(auditLogVerdict('AF20010', 'x')?.meaning ?? '', /wrong tenant/);
    assert.match(auditLogVerdict('AF20012', undefined)?.meaning ?? '', /auditing is not enabled/);
    assert.equal(auditLogVerdict('AF50000', undefined), undefined);
  });
  it('reads "Tenant <id> does not exist" in the message as auditing not enabled, whatever the code', () => {
    const v = auditLogVerdict('HTTP_ERROR', 'Microsoft.Office.Compliance.Audit.DataServiceException: Tenant 3e1a9b42-f5fb-49f0-ad1b-05d97491bc66 does not exist.');
    assert.match(v?.meaning ?? '', /unified audit logging is not enabled/);
    assert.match(v?.fix ?? '', /Purview/);
  });
});
