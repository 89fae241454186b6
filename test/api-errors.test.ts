// The AF error table: every documented code maps to a typed error; contract replay of errors.json.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  afCodes,
  ApiConfigurationError,
  clientCodes,
  ContentExpiredError,
  errorFromAnswer,
  ManagementApiError,
} from '../shared/api/errors';
import { readFixture, sharedDir } from './support/fixtures';

interface ErrorsFixture {
  errors: Array<{
    code: string;
    httpStatus: number | null;
    headers?: Record<string, string>;
    body: { error: { code: string; message: string } };
    variants?: Array<{ httpStatus?: number; error?: { code: string; message: string }; body?: { error: { code: string; message: string } } }>;
  }>;
}

describe('AF code table', () => {
  it('covers every code in enums.json ErrorCodes plus AF20024', () => {
    const enums = JSON.parse(readFileSync(path.join(sharedDir, 'reference', 'enums.json'), 'utf8')) as { ErrorCodes: Record<string, string> };
    const documented = [...Object.keys(enums.ErrorCodes), 'AF20024'];
    assert.deepEqual(Object.keys(afCodes).sort(), documented.sort());
  });

  it('gives each code a meaning, a fix and a retryable flag; only AF429 and AF50000 are retryable', () => {
    for (const [code, info] of Object.entries({ ...afCodes, ...clientCodes })) {
      assert.ok(info.meaning.length > 10 && info.fix.length > 5, code);
      assert.equal(typeof info.retryable, 'boolean');
    }
    const retryable = Object.entries(afCodes).filter(([, i]) => i.retryable).map(([c]) => c);
    assert.deepEqual(retryable.sort(), ['AF429', 'AF50000']);
  });

  it('maps configuration codes to ApiConfigurationError saying which problem', () => {
    const cases = { AF10001: 'permission', AF20010: 'wrong-tenant', AF20011: 'tenant', AF20013: 'tenant' } as const;
    for (const [code, problem] of Object.entries(cases)) {
      const err = errorFromAnswer(403, { code, message: 'x' }, { tenantId: 't' });
      assert.ok(err instanceof ApiConfigurationError, code);
      assert.equal(err.problem, problem);
      assert.equal(err.retryable, false);
      assert.match(err.message, /Fix: /);
    }
    const unauthorized = errorFromAnswer(401, undefined);
    assert.ok(unauthorized instanceof ApiConfigurationError);
    assert.equal(unauthorized.code, 'UNAUTHORIZED');
    assert.equal(unauthorized.problem, 'consent');
  });

  it('classifies answers without an AF code by status', () => {
    assert.equal(errorFromAnswer(503, undefined).code, 'SERVER_ERROR');
    assert.equal(errorFromAnswer(503, undefined).retryable, true);
    assert.equal(errorFromAnswer(429, undefined).code, 'AF429');
    assert.equal(errorFromAnswer(302, undefined).code, 'REDIRECT_REFUSED');
    assert.equal(errorFromAnswer(302, undefined).retryable, false);
    assert.equal(errorFromAnswer(404, undefined).retryable, false);
    assert.equal(errorFromAnswer(500, { code: 'AF99999' }).retryable, true, 'unknown code on a 5xx');
    assert.equal(errorFromAnswer(400, { code: 'AF99999' }).retryable, false, 'unknown code on a 4xx');
  });
});

describe('contract replay of notifications/errors.json', () => {
  const fixture = readFixture<ErrorsFixture>('notifications', 'errors.json');
  const expected: Record<string, { retryable: boolean; cls: abstract new (...args: never[]) => ManagementApiError }> = {
    AF20023: { retryable: false, cls: ManagementApiError },
    AF20030: { retryable: false, cls: ManagementApiError },
    AF20051: { retryable: false, cls: ContentExpiredError },
    AF20055: { retryable: false, cls: ManagementApiError },
    AF429: { retryable: true, cls: ManagementApiError },
    AF50000: { retryable: true, cls: ManagementApiError },
  };
  for (const entry of fixture.errors) {
    it(`${entry.code} (HTTP ${entry.httpStatus ?? 'unknown'}) and its variants`, () => {
      const want = expected[entry.code];
      assert.ok(want, `fixture has a code the test does not expect: ${entry.code}`);
      const bodies = [
        { status: entry.httpStatus ?? 400, body: entry.body },
        ...(entry.variants ?? []).map((v) => ({ status: v.httpStatus ?? entry.httpStatus ?? 400, body: v.body ?? { error: v.error! } })),
      ];
      for (const { status, body } of bodies) {
        const err = errorFromAnswer(status, body.error, { tenantId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66' });
        assert.equal(err.code, entry.code);
        assert.equal(err.retryable, want.retryable);
        assert.ok(err instanceof want.cls);
        assert.equal(err.apiMessage, body.error.message);
        assert.equal(err.status, status);
      }
    });
  }
});
