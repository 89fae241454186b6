// The token source: one credential per tenant, cached tokens shared by concurrent callers, refreshed before
// expiry, and sign-in failures turned into typed errors without the secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { resolveEndpoints } from '../shared/api/clouds';
import type { Clock } from '../shared/api/clock';
import { createCredential, createTokenSource } from '../shared/api/credentials';
import { ApiConfigurationError, ManagementApiError } from '../shared/api/errors';

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const tenant2 = '11111111-2222-3333-4444-555555555555';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';
const secret = 'the-Client-Secret-0123456789';
const endpoints = resolveEndpoints('GCCHigh');

function clockAt(t: number): Clock & { set(v: number): void } {
  let now = t;
  return { now: () => now, sleep: async () => undefined, set: (v) => (now = v) };
}

/** A credential that counts calls and answers after a tick, like a network round trip. */
function countingCredential(lifetimeMs: number, clock: Clock) {
  const calls: string[][] = [];
  const credential: TokenCredential = {
    getToken: async (scopes) => {
      calls.push([scopes].flat());
      await new Promise((resolve) => setImmediate(resolve));
      return { token: `token-${calls.length}`, expiresOnTimestamp: clock.now() + lifetimeMs } satisfies AccessToken;
    },
  };
  return { credential, calls };
}

describe('token source', () => {
  it('asks once per tenant for concurrent callers, with the cloud scope, and caches until shortly before expiry', async () => {
    const clock = clockAt(1_000_000);
    const perTenant = new Map<string, ReturnType<typeof countingCredential>>();
    const source = createTokenSource({ kind: 'clientSecret', clientId, clientSecret: secret }, endpoints, {
      clock,
      credentialFor: (t) => {
        const c = countingCredential(3_600_000, clock);
        perTenant.set(t, c);
        return c.credential;
      },
    });
    const tokens = await Promise.all([...Array(10)].map((_, i) => source.token(i % 2 ? tenant : tenant2)));
    assert.deepEqual(new Set(tokens), new Set(['token-1']));
    assert.equal(perTenant.get(tenant)!.calls.length, 1);
    assert.equal(perTenant.get(tenant2)!.calls.length, 1);
    assert.deepEqual(perTenant.get(tenant)!.calls[0], ['https://manage.office365.us/.default']);
    clock.set(1_000_000 + 54 * 60_000);
    assert.equal(await source.token(tenant), 'token-1');
    clock.set(1_000_000 + 56 * 60_000); // within 5 minutes of expiry
    assert.equal(await source.token(tenant), 'token-2');
  });

  it('turns sign-in failures into typed errors without the secret', async () => {
    const clock = clockAt(0);
    const failing = (err: Error): TokenCredential => ({ getToken: async () => { throw err; } });
    const cases: Array<[Error, string]> = [
      [Object.assign(new Error(`invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided (${secret}).`), { name: 'AuthenticationRequiredError' }), 'SIGN_IN_FAILED'],
      [Object.assign(new Error('unauthorized_client: AADSTS700016: Application not found in the directory.'), { name: 'AuthenticationRequiredError' }), 'SIGN_IN_FAILED'],
      [Object.assign(new Error('AADSTS90002: Tenant not found.'), { name: 'AuthenticationError', statusCode: 400 }), 'SIGN_IN_FAILED'],
      [Object.assign(new Error('ManagedIdentityCredential: no managed identity endpoint'), { name: 'CredentialUnavailableError' }), 'SIGN_IN_FAILED'],
      [Object.assign(new Error('temporarily_unavailable: try later'), { name: 'AuthenticationRequiredError' }), 'SIGN_IN_UNAVAILABLE'],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }), 'SIGN_IN_UNAVAILABLE'],
      [Object.assign(new Error('Service unavailable'), { name: 'AuthenticationError', statusCode: 503 }), 'SIGN_IN_UNAVAILABLE'],
    ];
    for (const [err, expected] of cases) {
      const source = createTokenSource({ kind: 'clientSecret', clientId, clientSecret: secret }, endpoints, { clock, credentialFor: () => failing(err) });
      await assert.rejects(source.token(tenant), (e: unknown) => {
        assert.ok(e instanceof ManagementApiError, String(e));
        assert.equal(e.code, expected, err.message);
        assert.equal(e.retryable, expected === 'SIGN_IN_UNAVAILABLE');
        assert.equal(e instanceof ApiConfigurationError, expected === 'SIGN_IN_FAILED');
        assert.ok(!e.message.includes(secret));
        return true;
      });
    }
  });

  it('builds the @azure/identity credential each setting asks for', () => {
    assert.ok(createCredential({ kind: 'clientSecret', clientId, clientSecret: secret }, tenant, endpoints) instanceof ClientSecretCredential);
    assert.ok(createCredential({ kind: 'managedIdentity' }, tenant, endpoints) instanceof ManagedIdentityCredential);
    assert.ok(createCredential({ kind: 'managedIdentity', clientId }, tenant, endpoints) instanceof ManagedIdentityCredential);
    assert.ok(createCredential({ kind: 'workloadIdentity', clientId }, tenant, endpoints) instanceof DefaultAzureCredential);
  });
});
