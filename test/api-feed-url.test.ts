// The URL guard: received contentUris and NextPageUris are accepted only in the exact expected form, so the
// bearer token can never be sent to another host, port, scheme or tenant — whatever parser tricks are tried.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveEndpoints } from '../shared/api/clouds';
import { checkContentId, contentIdFromUri, contentUrl, nextPageUrl, sameOrigin } from '../shared/api/feed-url';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const otherTenant = '11111111-2222-3333-4444-555555555555';
const origin = 'https://manage.office.com';
const realId = '20240514000412101431415$20240514000747992346480$audit_exchange$Audit_Exchange$na0034';
const good = `${origin}/api/v1.0/${tenant}/activity/feed/audit/${realId}`;
const goodNext = `${origin}/api/v1.0/${tenant}/activity/feed/subscriptions/content?contentType=Audit.Exchange&startTime=2024-05-14T00:00:00&endTime=2024-05-14T12:00:00&nextPage=20240514050000R017734002917`;

/** Whatever a WHATWG parser makes of an accepted string, it points at the expected origin. */
function pointsAtOrigin(raw: string, expectedOrigin: string): boolean {
  try {
    const url = new URL(raw);
    return url.origin === expectedOrigin && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

const tricks: string[] = [
  `https://manage.office.com@evil.example/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com.evil.example/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://evil.example/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com./api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com:443/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com:8443/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `HTTPS://MANAGE.OFFICE.COM/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://Manage.Office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `http://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `ftp://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `//manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https:\\\\manage.office.com\\api\\v1.0\\${tenant}\\activity\\feed\\audit\\${realId}`,
  `https://manage.office.com\\@evil.example/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/..%2F..%2F${realId}`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}%2F..`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/../../../evil`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/a/b`,
  `https://manage.office.com/api/v1.0/${otherTenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}#frag`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}?next=https://evil.example`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId} `,
  ` https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}\n`,
  `https://mаnage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`, // Cyrillic а
  `https://xn--mnage-3ve.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com%2F@evil.example/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://user:pass@manage.office.com/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/subscriptions/content`,
  `https://manage.office.com/api/v1.0/${tenant}/activity/feed/audit/`,
  `https://127.0.0.1/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
  `https://[::1]/api/v1.0/${tenant}/activity/feed/audit/${realId}`,
];

describe('contentIdFromUri', () => {
  it('accepts the documented form and returns the contentId', () => {
    assert.deepEqual(contentIdFromUri(good, origin, tenant), { ok: true, contentId: realId });
    assert.equal(contentIdFromUri(good, origin, tenant.toUpperCase()).ok, true, 'tenant GUIDs compare without case');
    assert.equal(contentIdFromUri(`${good}?PublisherIdentifier=${tenant}`, origin, tenant).ok, true);
  });

  it('accepts harmless spellings of the path (the fetched URL is rebuilt from the contentId), never of the id', () => {
    for (const variant of [
      `${origin}/api/v1/${tenant}/activity/feed/audit/${realId}`,
      `${origin}/API/V1.0/${tenant}/Activity/Feed/Audit/${realId}`,
      `${origin}/api/v1.0/${tenant.toUpperCase()}/ACTIVITY/feed/audit/${realId}`,
    ]) {
      assert.deepEqual(contentIdFromUri(variant, origin, tenant), { ok: true, contentId: realId }, variant);
    }
    assert.deepEqual(contentIdFromUri(good.replace('Audit_Exchange', 'AUDIT_EXCHANGE'), origin, tenant), {
      ok: true,
      contentId: realId.replace('Audit_Exchange', 'AUDIT_EXCHANGE'),
    });
    for (const wrong of [`${origin}/api/v2.0/${tenant}/activity/feed/audit/${realId}`, `${origin}/api/v1.0/${tenant}/activity/feed/blob/${realId}`]) {
      assert.equal(contentIdFromUri(wrong, origin, tenant).ok, false, wrong);
    }
  });

  it('refuses every known parser trick', () => {
    for (const raw of tricks) {
      assert.equal(contentIdFromUri(raw, origin, tenant).ok, false, raw);
    }
  });

  it('never accepts a string that a URL parser would send elsewhere (random mutations of a good URI)', () => {
    const pieces = ['@', '.', ':443', ':', '%2F', '%2f', '%5C', '\\', '/', '..', '#', '?', ' ', '\t', 'A', 'evil.example', 'а', 'ı', '%00', '//'];
    fc.assert(
      fc.property(
        fc.nat({ max: good.length }),
        fc.nat({ max: 12 }),
        fc.constantFrom(...pieces),
        (at, cut, piece) => {
          const raw = good.slice(0, at) + piece + good.slice(Math.min(good.length, at + cut));
          const result = contentIdFromUri(raw, origin, tenant);
          if (result.ok) {
            assert.ok(pointsAtOrigin(raw, origin), `accepted ${raw}`);
            assert.equal(checkContentId(result.contentId).ok, true);
            assert.equal(contentUrl(origin, tenant, result.contentId).startsWith(`${origin}/api/v1.0/${tenant}/`), true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never accepts arbitrary strings that point elsewhere', () => {
    fc.assert(
      fc.property(fc.webUrl({ withQueryParameters: true, withFragments: true }), (raw) => {
        const result = contentIdFromUri(raw, origin, tenant);
        if (result.ok) assert.ok(pointsAtOrigin(raw, origin), raw);
      }),
      { numRuns: 2000 },
    );
  });

  it('works on a loopback simulator origin and refuses the same path on another port', () => {
    const sim = resolveEndpoints('Enterprise', { apiBaseUrl: 'https://127.0.0.1:40001' }).apiOrigin;
    const uri = `${sim}/api/v1.0/${tenant}/activity/feed/audit/${realId}`;
    assert.equal(contentIdFromUri(uri, sim, tenant).ok, true);
    assert.equal(contentIdFromUri(uri.replace(':40001', ':40002'), sim, tenant).ok, false);
    assert.equal(contentIdFromUri(uri.replace('127.0.0.1', 'localhost'), sim, tenant).ok, false);
  });
});

describe('checkContentId', () => {
  it('allows the real alphabet with $', () => {
    for (const id of [realId, '492638008028$492638008028$f28ab78ad40140608012736e373933ebspo2015043022$4a81a7c326fc4aed89c62e6039ab833b$04', 'a-b.c_d$e']) {
      assert.equal(checkContentId(id).ok, true, id);
    }
  });
  it('refuses path, query, escape and whitespace characters', () => {
    for (const id of ['', 'a/b', 'a\\b', 'a%2Fb', 'a?b', 'a#b', '..', 'a..b', '.hidden', 'a b', 'a\tb', 'a\nb', 'a&b', 'a;b', 'é', 'a@b', 'x'.repeat(513)]) {
      assert.equal(checkContentId(id).ok, false, JSON.stringify(id));
    }
  });
  it('property: whatever passes stays one path segment under the tenant feed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (id) => {
        if (!checkContentId(id).ok) return;
        const url = new URL(contentUrl(origin, tenant, id));
        assert.equal(url.origin, origin);
        assert.equal(url.pathname, `/api/v1.0/${tenant}/activity/feed/audit/${id}`);
        assert.equal(url.search, '');
      }),
      { numRuns: 3000 },
    );
  });
  it('contentUrl throws a typed URL_REFUSED for a bad id', () => {
    assert.throws(() => contentUrl(origin, tenant, '../x'), (e: unknown) => (e as { code?: string }).code === 'URL_REFUSED');
  });
});

describe('nextPageUrl', () => {
  it('accepts the fixture NextPageUri and rebuilds it on our origin, keeping the query', () => {
    const r = nextPageUrl(goodNext, origin, tenant, 'content');
    assert.ok(r.ok);
    assert.equal(r.url.origin, origin);
    assert.equal(r.url.pathname, `/api/v1.0/${tenant}/activity/feed/subscriptions/content`);
    assert.equal(r.url.searchParams.get('nextPage'), '20240514050000R017734002917');
    assert.equal(r.url.searchParams.get('startTime'), '2024-05-14T00:00:00');
  });
  it('accepts the doc /api/v1/ spelling but requests /api/v1.0/', () => {
    const r = nextPageUrl(goodNext.replace('/api/v1.0/', '/api/v1/'), origin, tenant, 'content');
    assert.ok(r.ok);
    assert.equal(r.url.pathname, `/api/v1.0/${tenant}/activity/feed/subscriptions/content`);
  });
  it('refuses tricks, other operations, other tenants and a missing nextPage', () => {
    const bad = [
      goodNext.replace(origin, 'https://evil.example'),
      goodNext.replace(origin, `${origin}:443`),
      goodNext.replace(origin, `${origin}.`),
      goodNext.replace(origin, `${origin}@evil.example`),
      goodNext.replace(origin, 'http://manage.office.com'),
      goodNext.replace(tenant, otherTenant),
      goodNext.replace('subscriptions/content', 'subscriptions/notifications'),
      goodNext.replace('subscriptions/content', 'audit/x'),
      goodNext.replace(/&nextPage=.*/, ''),
      goodNext + '#x',
      goodNext.replace('/api/v1.0/', '/api/v2.0/'),
      goodNext.replace('/api/v1.0/', '/api/v1.0/%2F'),
    ];
    for (const raw of bad) assert.equal(nextPageUrl(raw, origin, tenant, 'content').ok, false, raw);
  });
  it('property: an accepted NextPageUri is always rebuilt on exactly our origin', () => {
    fc.assert(
      fc.property(fc.nat({ max: goodNext.length }), fc.nat({ max: 8 }), fc.constantFrom('@', '.', ':443', '%2F', '\\', '/', '#', 'evil', ':1'), (at, cut, piece) => {
        const raw = goodNext.slice(0, at) + piece + goodNext.slice(Math.min(goodNext.length, at + cut));
        const r = nextPageUrl(raw, origin, tenant, 'content');
        if (r.ok) {
          assert.ok(sameOrigin(r.url, origin));
          assert.ok(pointsAtOrigin(raw, origin), raw);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
