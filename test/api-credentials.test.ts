// The token source: one credential per tenant, cached tokens shared by concurrent callers, refreshed before
// expiry, and sign-in failures turned into typed errors without the secret.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientAssertionCredential, ClientCertificateCredential, ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { resolveEndpoints } from '../shared/api/clouds';
import type { Clock } from '../shared/api/clock';
import { createCredential, createTokenSource, credentialSecrets, type FederatedAssertion } from '../shared/api/credentials';
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
    assert.ok(createCredential({ kind: 'federatedIdentity', clientId, identityClientId: tenant2 }, tenant, endpoints) instanceof ClientAssertionCredential);
    assert.ok(createCredential({ kind: 'clientCertificatePem', clientId, certificatePem: 'PEM' }, tenant, endpoints) instanceof ClientCertificateCredential);
  });

  it('asks the managed identity for the token exchange audience of the cloud: USGov in GCCHigh and DoD', () => {
    assert.deepEqual(
      (['Enterprise', 'GCC', 'GCCHigh', 'DoD'] as const).map((cloud) => resolveEndpoints(cloud).tokenExchangeAudience),
      ['api://AzureADTokenExchange', 'api://AzureADTokenExchange', 'api://AzureADTokenExchangeUSGov', 'api://AzureADTokenExchangeUSGov'],
    );
  });

  it('keeps the PEM (its private key), the secret and the certificate password out of every message', () => {
    assert.deepEqual(credentialSecrets({ kind: 'clientCertificatePem', clientId, certificatePem: 'KEY' }), ['KEY']);
    assert.deepEqual(credentialSecrets({ kind: 'federatedIdentity', clientId, identityClientId: tenant2 }), []);
  });

  it('names the federated credential claim Entra could not match, and a managed identity that gave no token', async () => {
    const clock = clockAt(0);
    const settings = { kind: 'federatedIdentity' as const, clientId, identityClientId: tenant2 };
    const entra = (code: string, claim: string, value: string) =>
      Object.assign(new Error(`invalid_client: Error(s): ${code.slice(6)} - Description: ${code}: No matching federated identity record found for presented assertion ${claim} '${value}'. Please check.`), { name: 'AuthenticationRequiredError' });
    const cases: Array<[Error, string, RegExp]> = [
      [entra('AADSTS700212', 'audience', 'api://AzureADTokenExchange'), 'FEDERATED_AUDIENCE_MISMATCH', /audience is 'api:\/\/AzureADTokenExchange'/],
      [entra('AADSTS700211', 'issuer', 'https://login.microsoftonline.com/x/v2.0'), 'FEDERATED_ISSUER_MISMATCH', /issuer is 'https:\/\/login\.microsoftonline\.com\/x\/v2\.0'/],
      [entra('AADSTS700213', 'subject', 'a7d388c3-5e3f-4959-ac7d-786b3383006a'), 'FEDERATED_SUBJECT_MISMATCH', /subject is 'a7d388c3/],
    ];
    const healthy: FederatedAssertion = { lastFailure: undefined, get: async () => 'mi-token' };
    for (const [err, expected, detail] of cases) {
      const source = createTokenSource(settings, endpoints, { clock, federatedAssertion: healthy, credentialFor: () => ({ getToken: async () => { throw err; } }) });
      await assert.rejects(source.token(tenant), (e: unknown) => {
        assert.ok(e instanceof ApiConfigurationError, String(e));
        assert.equal(e.code, expected);
        assert.match(e.message, detail);
        return true;
      });
    }
    // The identity endpoint refused: the error is about O365_FEDERATED_IDENTITY_CLIENT_ID; unreachable, it is worth a retry.
    for (const [message, code] of [
      ['ManagedIdentityCredential: Authentication failed. Message Unable to load the proper Managed Identity.', 'MANAGED_IDENTITY_UNAVAILABLE'],
      ['ManagedIdentityCredential: Network unreachable. Message: connect ECONNREFUSED 127.0.0.1:41741', 'SIGN_IN_UNAVAILABLE'],
    ] as const) {
      const failing: FederatedAssertion = { lastFailure: new Error(message), get: async () => { throw new Error(message); } };
      const source = createTokenSource(settings, endpoints, { clock, federatedAssertion: failing, credentialFor: () => ({ getToken: async () => { throw new Error('wrapped by MSAL'); } }) });
      await assert.rejects(source.token(tenant), (e: unknown) => e instanceof ManagementApiError && e.code === code && e.retryable === (code === 'SIGN_IN_UNAVAILABLE'));
    }
  });
});
