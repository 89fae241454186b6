// The secret scan the chaos suite ends with must find a secret however a leak would write it, and only then.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SecretScan } from './support/secret-scan';

describe('secret scan', () => {
  const secret = `s3cr3t~${randomBytes(18).toString('base64')}+/=`;
  const token = `eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.${randomBytes(32).toString('base64url')}`;
  const leaks: Record<string, (s: string) => string> = {
    plain: (s) => `level=info msg="calling" secret=${s} done`,
    'URL-encoded': (s) => `GET /x?client_secret=${encodeURIComponent(s)}&a=b`,
    'form-encoded': (s) => new URLSearchParams({ client_secret: s, grant_type: 'client_credentials' }).toString(),
    'JSON-escaped': (s) => JSON.stringify({ nested: JSON.stringify({ secret: `"${s}"` }) }),
    'base64, any offset': (s) => Buffer.from(`${'x'.repeat(randomBytes(1)[0]! % 7)}Basic user:${s} tail`).toString('base64'),
    base64url: (s) => Buffer.from(`{"k":"${s}"}`).toString('base64url'),
  };

  for (const [how, leak] of Object.entries(leaks)) {
    it(`finds a secret written ${how}`, () => {
      for (let shift = 0; shift < 3; shift++) {
        const scan = new SecretScan({ 'client secret': secret });
        scan.scan({ source: 'log', text: 'ab'.slice(0, shift) + leak(secret) });
        assert.ok(scan.hits.length > 0, `${how}, shifted ${shift}`);
        assert.ok(scan.hits.every((h) => h.secret === 'client secret' && h.source === 'log'));
      }
    });
  }

  it('finds a token by its signature, however the token is cut around it', () => {
    const scan = new SecretScan({ token });
    scan.scan({ source: 'a', text: `Authorization: Bearer ${token}` });
    scan.scan({ source: 'b', text: `sig=${token.split('.')[2]}` });
    scan.scan({ source: 'c', text: Buffer.from(`{"access_token":"${token}"}`).toString('base64') });
    assert.deepEqual([...new Set(scan.hits.map((h) => h.source))], ['a', 'b', 'c']);
  });

  it('reports nothing for texts without the secret, and never the secret itself', () => {
    const scan = new SecretScan({ 'client secret': secret, token });
    scan.scan({ source: 'log', text: `level=info msg="token acquired" secret=[redacted] ${token.split('.').slice(0, 2).join('.')}` });
    assert.deepEqual(scan.hits, []);
    assert.equal(scan.texts, 1);
    assert.ok(!JSON.stringify(scan.hits).includes(secret));
  });
});
