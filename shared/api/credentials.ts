// Access tokens from @azure/identity only. One credential per tenant per process, plus a small cache with
// in-flight sharing, so N parallel downloads cost one token request per tenant. Tokens and secrets stay here:
// they are handed to the HTTP layer as a header value and never logged or put into errors.
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
  type TokenCredential,
  type TokenCredentialOptions,
} from '@azure/identity';
import type { Agent } from 'node:https';
import { redact } from '../log.js';
import type { Endpoints } from './clouds.js';
import type { Clock } from './clock.js';
import { apiError, ManagementApiError, type ClientCode } from './errors.js';

export type CredentialSettings =
  | { kind: 'clientSecret'; clientId: string; clientSecret: string }
  | { kind: 'clientCertificate'; clientId: string; certificatePath: string; certificatePassword?: string | undefined }
  /** Key and certificate as PEM text (in Azure a Key Vault reference to the secret of a PEM certificate). */
  | { kind: 'clientCertificatePem'; clientId: string; certificatePem: string }
  /** The app registration trusts the Function App's user-assigned identity (a federated identity credential). */
  | { kind: 'federatedIdentity'; clientId: string; identityClientId: string }
  | { kind: 'managedIdentity'; clientId?: string | undefined }
  | { kind: 'workloadIdentity'; clientId?: string | undefined };

/** The values of a credential setting that must never be printed. */
export function credentialSecrets(settings: CredentialSettings): string[] {
  switch (settings.kind) {
    case 'clientSecret':
      return [settings.clientSecret];
    case 'clientCertificate':
      return settings.certificatePassword ? [settings.certificatePassword] : [];
    case 'clientCertificatePem':
      return [settings.certificatePem];
    default:
      return [];
  }
}

/** Where the client assertion of a federated sign-in comes from: the managed identity's token, asked once per process. */
export interface FederatedAssertion {
  get(signal?: AbortSignal): Promise<string>;
  /** The failure of the last get(), if it failed: the sign-in error then names the identity, not the app. */
  lastFailure: unknown;
}

export function managedIdentityAssertion(identityClientId: string, endpoints: Endpoints, options: TokenCredentialOptions = {}): FederatedAssertion {
  // One user-assigned identity for every tenant: the token is the same, and MSAL caches it.
  const identity = new ManagedIdentityCredential(identityClientId, { ...options, retryOptions: { maxRetries: 0 } });
  const scope = `${endpoints.tokenExchangeAudience}/.default`;
  const assertion: FederatedAssertion = {
    lastFailure: undefined,
    async get(signal) {
      try {
        const got = await identity.getToken(scope, signal ? { abortSignal: signal } : {});
        assertion.lastFailure = undefined;
        return got.token;
      } catch (err) {
        assertion.lastFailure = err;
        throw err;
      }
    },
  };
  return assertion;
}

export interface TokenSource {
  /** A bearer token for the API of our cloud, for this tenant. */
  token(tenantId: string, options?: { signal?: AbortSignal | undefined }): Promise<string>;
}

export interface TokenSourceOptions {
  /** The HTTP client's agent, so sign-in trusts the same CAs (the simulator's, when configured). */
  agent?: Agent | undefined;
  clock: Clock;
  /** For tests of the cache: replaces the @azure/identity credential per tenant. */
  credentialFor?: (tenantId: string) => TokenCredential;
  /** For tests: the managed identity's side of a federated sign-in. */
  federatedAssertion?: FederatedAssertion;
}

/** Tokens are renewed this long before they expire. */
const REFRESH_EARLY_MS = 5 * 60_000;

export function createCredential(
  settings: CredentialSettings,
  tenantId: string,
  endpoints: Endpoints,
  agent?: Agent,
  federated?: FederatedAssertion,
): TokenCredential {
  const common: TokenCredentialOptions & { disableInstanceDiscovery?: boolean } = {
    authorityHost: endpoints.authorityHost,
    // Our retry policy is the only one: the identity pipeline does not retry behind our back.
    retryOptions: { maxRetries: 0 },
    // A simulator cannot answer Entra's instance discovery.
    ...(endpoints.simulated ? { disableInstanceDiscovery: true } : {}),
    ...(agent ? { agent } : {}),
  };
  switch (settings.kind) {
    case 'clientSecret':
      return new ClientSecretCredential(tenantId, settings.clientId, settings.clientSecret, common);
    case 'clientCertificate':
      return new ClientCertificateCredential(
        tenantId,
        settings.clientId,
        { certificatePath: settings.certificatePath, ...(settings.certificatePassword ? { certificatePassword: settings.certificatePassword } : {}) },
        common,
      );
    case 'clientCertificatePem':
      return new ClientCertificateCredential(tenantId, settings.clientId, { certificate: settings.certificatePem }, common);
    case 'federatedIdentity': {
      // The identity's token (audience api://AzureADTokenExchange[USGov]) is the client assertion of the
      // multi-tenant app registration in each customer tenant.
      const assertion = federated ?? managedIdentityAssertion(settings.identityClientId, endpoints);
      return new ClientAssertionCredential(tenantId, settings.clientId, () => assertion.get(), common);
    }
    case 'managedIdentity':
      // A managed identity lives in its home tenant; the tenant id cannot be chosen.
      return settings.clientId ? new ManagedIdentityCredential(settings.clientId, common) : new ManagedIdentityCredential(common);
    case 'workloadIdentity':
      return new DefaultAzureCredential({
        ...common,
        tenantId,
        ...(settings.clientId ? { workloadIdentityClientId: settings.clientId, managedIdentityClientId: settings.clientId } : {}),
      });
  }
}

/** OAuth error names that mean "try again later"; every other named error needs a person to act. */
const transientOAuthErrors = new Set(['temporarily_unavailable', 'server_error']);

/** Entra's answers when no federated identity credential of the app matches the presented token (data, not a switch). */
const federatedMismatches: Readonly<Record<string, ClientCode>> = {
  AADSTS700211: 'FEDERATED_ISSUER_MISMATCH',
  AADSTS700212: 'FEDERATED_AUDIENCE_MISMATCH',
  AADSTS700213: 'FEDERATED_SUBJECT_MISMATCH',
  AADSTS70021: 'FEDERATED_SUBJECT_MISMATCH',
};

/** Network failures reaching the managed identity endpoint: waiting can help. */
const unreachable = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|Network unreachable/i;

/** What a sign-in failure means, without the secret: AADSTS code and OAuth error name when there are any. */
function signInError(err: unknown, tenantId: string, secrets: string[], identityFailure?: unknown): ManagementApiError {
  if (err instanceof ManagementApiError) return err;
  if (identityFailure !== undefined) return identityError(identityFailure, tenantId, secrets);
  const e = err as { name?: unknown; statusCode?: unknown; message?: unknown; errorResponse?: { error?: unknown } };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const aadsts = /AADSTS\d+/.exec(message)?.[0];
  // MSAL failures arrive as "invalid_client: ..." in the message; AuthenticationError carries errorResponse.
  const oauth = typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : /^([a-z_]+):/.exec(message)?.[1];
  const federated = aadsts === undefined ? undefined : federatedMismatches[aadsts];
  if (federated) {
    // Entra names the value it could not match (an issuer URL, a principal id or an audience: never a secret).
    const presented = /presented assertion (issuer|subject|audience) '([^']{0,200})'/.exec(message);
    const what = presented ? `; the managed identity token's ${presented[1]} is '${presented[2]}'` : '';
    return apiError(federated, { tenantId, operation: 'sign-in', status, detail: `${[oauth, aadsts].filter(Boolean).join(' ')}${what}` });
  }
  // Redact, then cut: cutting first could leave the first half of an echoed secret in the message.
  const detail = [oauth, aadsts].filter(Boolean).join(' ') || redact(message.split('\n')[0]!, secrets).slice(0, 300);
  const transient =
    (oauth !== undefined && transientOAuthErrors.has(oauth)) ||
    (oauth === undefined && aadsts === undefined && (status === undefined || status >= 500 || status === 429));
  const permanent = !transient || e.name === 'CredentialUnavailableError';
  return apiError(permanent ? 'SIGN_IN_FAILED' : 'SIGN_IN_UNAVAILABLE', { tenantId, operation: 'sign-in', status, detail });
}

/** The managed identity gave no token (for a federated sign-in): a missing or wrong identity, or its endpoint down. */
function identityError(err: unknown, tenantId: string, secrets: string[]): ManagementApiError {
  const message = err instanceof Error ? err.message : String(err);
  const detail = redact(message.replace(/^ManagedIdentityCredential: /, '').split('\n')[0]!, secrets).slice(0, 300);
  const code = unreachable.test(message) ? 'SIGN_IN_UNAVAILABLE' : 'MANAGED_IDENTITY_UNAVAILABLE';
  return apiError(code, { tenantId, operation: 'sign-in (managed identity token)', detail });
}

export function createTokenSource(settings: CredentialSettings, endpoints: Endpoints, options: TokenSourceOptions): TokenSource {
  const secrets = credentialSecrets(settings);
  const federated = settings.kind === 'federatedIdentity' ? (options.federatedAssertion ?? managedIdentityAssertion(settings.identityClientId, endpoints)) : undefined;
  const perTenant = new Map<
    string,
    { credential: TokenCredential; cached?: { token: string; refreshAt: number }; inflight?: Promise<string> }
  >();

  return {
    async token(tenantId, { signal } = {}) {
      let entry = perTenant.get(tenantId);
      if (!entry) {
        entry = { credential: options.credentialFor?.(tenantId) ?? createCredential(settings, tenantId, endpoints, options.agent, federated) };
        perTenant.set(tenantId, entry);
      }
      const slot = entry;
      if (slot.cached && options.clock.now() < slot.cached.refreshAt) return slot.cached.token;
      if (!slot.inflight) {
        slot.inflight = (async () => {
          try {
            const got = await slot.credential.getToken(endpoints.scope, signal ? { abortSignal: signal } : {});
            if (!got) throw apiError('SIGN_IN_FAILED', { tenantId, operation: 'sign-in', detail: 'no token was returned' });
            slot.cached = { token: got.token, refreshAt: got.expiresOnTimestamp - REFRESH_EARLY_MS };
            return got.token;
          } catch (err) {
            throw signInError(err, tenantId, secrets, federated?.lastFailure);
          } finally {
            slot.inflight = undefined;
          }
        })();
      }
      return slot.inflight;
    },
  };
}
