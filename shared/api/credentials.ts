// Access tokens from @azure/identity only. One credential per tenant per process, plus a small cache with
// in-flight sharing, so N parallel downloads cost one token request per tenant. Tokens and secrets stay here:
// they are handed to the HTTP layer as a header value and never logged or put into errors.
import {
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
import { apiError, ManagementApiError } from './errors.js';

export type CredentialSettings =
  | { kind: 'clientSecret'; clientId: string; clientSecret: string }
  | { kind: 'clientCertificate'; clientId: string; certificatePath: string; certificatePassword?: string | undefined }
  | { kind: 'managedIdentity'; clientId?: string | undefined }
  | { kind: 'workloadIdentity'; clientId?: string | undefined };

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
}

/** Tokens are renewed this long before they expire. */
const REFRESH_EARLY_MS = 5 * 60_000;

export function createCredential(
  settings: CredentialSettings,
  tenantId: string,
  endpoints: Endpoints,
  agent?: Agent,
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

/** What a sign-in failure means, without the secret: AADSTS code and OAuth error name when there are any. */
function signInError(err: unknown, tenantId: string, secrets: string[]): ManagementApiError {
  if (err instanceof ManagementApiError) return err;
  const e = err as { name?: unknown; statusCode?: unknown; message?: unknown; errorResponse?: { error?: unknown } };
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const aadsts = /AADSTS\d+/.exec(message)?.[0];
  // MSAL failures arrive as "invalid_client: ..." in the message; AuthenticationError carries errorResponse.
  const oauth = typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : /^([a-z_]+):/.exec(message)?.[1];
  // Redact, then cut: cutting first could leave the first half of an echoed secret in the message.
  const detail = [oauth, aadsts].filter(Boolean).join(' ') || redact(message.split('\n')[0]!, secrets).slice(0, 300);
  const transient =
    (oauth !== undefined && transientOAuthErrors.has(oauth)) ||
    (oauth === undefined && aadsts === undefined && (status === undefined || status >= 500 || status === 429));
  const permanent = !transient || e.name === 'CredentialUnavailableError';
  return apiError(permanent ? 'SIGN_IN_FAILED' : 'SIGN_IN_UNAVAILABLE', { tenantId, operation: 'sign-in', status, detail });
}

export function createTokenSource(settings: CredentialSettings, endpoints: Endpoints, options: TokenSourceOptions): TokenSource {
  const secrets = [
    ...(settings.kind === 'clientSecret' ? [settings.clientSecret] : []),
    ...(settings.kind === 'clientCertificate' && settings.certificatePassword ? [settings.certificatePassword] : []),
  ];
  const perTenant = new Map<
    string,
    { credential: TokenCredential; cached?: { token: string; refreshAt: number }; inflight?: Promise<string> }
  >();

  return {
    async token(tenantId, { signal } = {}) {
      let entry = perTenant.get(tenantId);
      if (!entry) {
        entry = { credential: options.credentialFor?.(tenantId) ?? createCredential(settings, tenantId, endpoints, options.agent) };
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
            throw signInError(err, tenantId, secrets);
          } finally {
            slot.inflight = undefined;
          }
        })();
      }
      return slot.inflight;
    },
  };
}
