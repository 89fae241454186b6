// The API section of the settings: which tenants, how the app signs in, which cloud and content types, and the
// overrides that point it at the local simulator (refused in Azure). Out comes what the Management API client needs.
import { z } from 'zod';
import { loopbackOrigin, resolveEndpoints, type Endpoints } from '../api/clouds.js';
import type { CredentialSettings } from '../api/credentials.js';
import { DEFAULT_REQUESTS_PER_MINUTE } from '../api/limiter.js';
import { defaultTenantTable } from '../pipeline/tenants.js';
import { certificatePemProblem } from './certificate-pem.js';
import { cloud, contentTypeList, flag, guid, guidList, positiveInt, setting } from './setting-values.js';

const credentialSettingNames = [
  'O365_CLIENT_SECRET',
  'O365_CLIENT_CERTIFICATE_PATH',
  'O365_CLIENT_CERTIFICATE_PEM',
  'O365_FEDERATED_IDENTITY_CLIENT_ID',
  'O365_USE_MANAGED_IDENTITY',
  'O365_USE_WORKLOAD_IDENTITY',
] as const;

const apiSettingsFields = z.object({
    O365_TENANT_ID: setting(guidList),
    /** The tenant registry's table (in the app's storage). Set, it may hold every tenant: O365_TENANT_ID is optional. */
    O365_TENANT_REGISTRY: setting(
      z.string().regex(/^[A-Za-z][A-Za-z0-9]{2,62}$/, { error: 'must be a table name (3-63 letters and digits, starting with a letter)' }).optional(),
    ),
    O365_CLIENT_ID: setting(guid.optional()),
    O365_CLIENT_SECRET: setting(z.string().optional()),
    O365_CLIENT_CERTIFICATE_PATH: setting(z.string().optional()),
    O365_CLIENT_CERTIFICATE_PASSWORD: setting(z.string().optional()),
    /** Key and certificate as PEM (in Azure: a Key Vault reference to a PEM certificate's secret). */
    O365_CLIENT_CERTIFICATE_PEM: setting(z.string().optional()),
    /** Client id of the Function App's user-assigned identity that the app registration trusts (federated credential). */
    O365_FEDERATED_IDENTITY_CLIENT_ID: setting(guid.optional()),
    O365_USE_MANAGED_IDENTITY: setting(flag),
    O365_USE_WORKLOAD_IDENTITY: setting(flag),
    O365_CLOUD: setting(cloud),
    O365_CONTENT_TYPES: setting(contentTypeList),
    O365_PUBLISHER_ID: setting(guid.optional()),
    O365_API_BASE_URL: setting(z.string().optional()),
    O365_AUTHORITY_HOST: setting(z.string().optional()),
    O365_CA_FILE: setting(z.string().optional()),
    /** Local runs only: every Key Vault secret URI is read from this loopback origin (a fake vault), path kept. */
    O365_KEYVAULT_URL_OVERRIDE: setting(z.string().optional()),
    O365_REQUESTS_PER_MINUTE: setting(positiveInt(DEFAULT_REQUESTS_PER_MINUTE, 2000)),
    O365_RESTART_DISABLED_SUBSCRIPTIONS: setting(flag),
    /** Set by App Service / Functions in Azure: the simulator overrides are refused there. */
    WEBSITE_INSTANCE_ID: setting(z.string().optional()),
  });

export const apiSettingsSection = apiSettingsFields
  .superRefine((s, ctx) => {
    const issue = (name: string, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    if (s.O365_TENANT_ID.length === 0) {
      if (s.O365_TENANT_REGISTRY === undefined) issue('O365_TENANT_ID', 'is required (or keep every tenant in the registry table: set O365_TENANT_REGISTRY)');
      // Without it requests share one common quota; with no settings tenant there is no default to take it from.
      else if (s.O365_PUBLISHER_ID === undefined) issue('O365_PUBLISHER_ID', "is required when O365_TENANT_ID is not set: the app registration's home tenant GUID");
    }
    const chosen = credentialSettingNames.filter((name) => Boolean(s[name]));
    if (chosen.length === 0) {
      issue('O365_CLIENT_SECRET', `choose how to sign in: set one of ${credentialSettingNames.join(', ')}`);
    } else if (chosen.length > 1) {
      for (const name of chosen) issue(name, `only one way to sign in may be set, found ${chosen.join(' and ')}`);
    }
    const needsClientId = (['O365_CLIENT_SECRET', 'O365_CLIENT_CERTIFICATE_PATH', 'O365_CLIENT_CERTIFICATE_PEM', 'O365_FEDERATED_IDENTITY_CLIENT_ID'] as const).find(
      (name) => s[name] !== undefined,
    );
    if (needsClientId && s.O365_CLIENT_ID === undefined) issue('O365_CLIENT_ID', `is required with ${needsClientId} (the app registration's client id)`);
    if (s.O365_FEDERATED_IDENTITY_CLIENT_ID !== undefined && s.O365_FEDERATED_IDENTITY_CLIENT_ID === s.O365_CLIENT_ID) {
      issue('O365_FEDERATED_IDENTITY_CLIENT_ID', "is the app registration's client id (O365_CLIENT_ID); it must be the client id of the Function App's user-assigned identity");
    }
    if (s.O365_CLIENT_CERTIFICATE_PEM !== undefined) {
      const problem = certificatePemProblem(s.O365_CLIENT_CERTIFICATE_PEM);
      if (problem) issue('O365_CLIENT_CERTIFICATE_PEM', problem);
    }
    if (s.O365_CLIENT_CERTIFICATE_PASSWORD !== undefined && s.O365_CLIENT_CERTIFICATE_PATH === undefined) {
      issue('O365_CLIENT_CERTIFICATE_PASSWORD', 'is only used with O365_CLIENT_CERTIFICATE_PATH');
    }
    const inAzure = s.WEBSITE_INSTANCE_ID !== undefined;
    const simulated = s.O365_API_BASE_URL !== undefined || s.O365_AUTHORITY_HOST !== undefined;
    for (const name of ['O365_API_BASE_URL', 'O365_AUTHORITY_HOST', 'O365_CA_FILE', 'O365_KEYVAULT_URL_OVERRIDE'] as const) {
      const value = s[name];
      if (value === undefined) continue;
      if (inAzure) {
        issue(name, 'is for the local simulator only and is refused when running in Azure (WEBSITE_INSTANCE_ID is set)');
        continue;
      }
      if (name === 'O365_CA_FILE' || name === 'O365_KEYVAULT_URL_OVERRIDE') {
        if (!simulated) {
          issue(name, 'is only used with O365_API_BASE_URL or O365_AUTHORITY_HOST (the local simulator)');
          continue;
        }
        if (name === 'O365_CA_FILE') continue;
      }
      const checked = loopbackOrigin(value);
      if (!checked.ok) issue(name, `${checked.reason} (it is for the local simulator only)`);
    }
    // Always run, so every problem is reported in one go (the fields are all text, so values are well-typed).
  }, { when: () => true })
  .transform((s) => {
    const credential = chosenCredential(s);
    const endpoints: Endpoints = resolveEndpoints(
      s.O365_CLOUD,
      { apiBaseUrl: s.O365_API_BASE_URL, authorityHost: s.O365_AUTHORITY_HOST },
      s.WEBSITE_INSTANCE_ID !== undefined,
    );
    const tenantIds = s.O365_TENANT_ID;
    return {
      tenantIds,
      clientId: s.O365_CLIENT_ID,
      credential,
      cloud: s.O365_CLOUD,
      endpoints,
      contentTypes: s.O365_CONTENT_TYPES,
      // Default: the app registration's home tenant, taken as the first configured tenant.
      publisherId: s.O365_PUBLISHER_ID ?? tenantIds[0] ?? '',
      /** The registry table the app follows besides the settings' tenants (relaytenants unless named). */
      tenantTable: s.O365_TENANT_REGISTRY ?? defaultTenantTable,
      /** True when O365_TENANT_REGISTRY names it: the table may be the only source of tenants. */
      tenantTableNamed: s.O365_TENANT_REGISTRY !== undefined,
      caFile: s.O365_CA_FILE,
      /** The fake vault's origin in local runs (trusted through caFile); undefined: the vaults the URIs name. */
      keyVaultOrigin: s.O365_KEYVAULT_URL_OVERRIDE === undefined || s.WEBSITE_INSTANCE_ID !== undefined ? undefined : loopbackOrigin(s.O365_KEYVAULT_URL_OVERRIDE).ok ? new URL(s.O365_KEYVAULT_URL_OVERRIDE).origin : undefined,
      requestsPerMinute: s.O365_REQUESTS_PER_MINUTE,
      restartDisabledSubscriptions: s.O365_RESTART_DISABLED_SUBSCRIPTIONS,
      runningInAzure: s.WEBSITE_INSTANCE_ID !== undefined,
    };
  });

export type ApiSettings = z.infer<typeof apiSettingsSection>;

type CredentialFields = Pick<
  z.infer<typeof apiSettingsFields>,
  | 'O365_CLIENT_ID' | 'O365_CLIENT_SECRET' | 'O365_CLIENT_CERTIFICATE_PATH' | 'O365_CLIENT_CERTIFICATE_PASSWORD'
  | 'O365_CLIENT_CERTIFICATE_PEM' | 'O365_FEDERATED_IDENTITY_CLIENT_ID' | 'O365_USE_MANAGED_IDENTITY'
>;

/** The one way to sign in that the (already checked) settings chose. */
function chosenCredential(s: CredentialFields): CredentialSettings {
  const clientId = s.O365_CLIENT_ID ?? '';
  if (s.O365_CLIENT_SECRET !== undefined) return { kind: 'clientSecret', clientId, clientSecret: s.O365_CLIENT_SECRET };
  if (s.O365_CLIENT_CERTIFICATE_PATH !== undefined) {
    return { kind: 'clientCertificate', clientId, certificatePath: s.O365_CLIENT_CERTIFICATE_PATH, certificatePassword: s.O365_CLIENT_CERTIFICATE_PASSWORD };
  }
  if (s.O365_CLIENT_CERTIFICATE_PEM !== undefined) return { kind: 'clientCertificatePem', clientId, certificatePem: s.O365_CLIENT_CERTIFICATE_PEM };
  if (s.O365_FEDERATED_IDENTITY_CLIENT_ID !== undefined) return { kind: 'federatedIdentity', clientId, identityClientId: s.O365_FEDERATED_IDENTITY_CLIENT_ID };
  if (s.O365_USE_MANAGED_IDENTITY) return { kind: 'managedIdentity', clientId: s.O365_CLIENT_ID };
  return { kind: 'workloadIdentity', clientId: s.O365_CLIENT_ID };
}
