// The relay section of the settings: what the Functions app adds to the API section — webhook and its authIds,
// per-tenant options, record filters, sinks (O365_SINKS, the blob sink by default), storage and timings.
import { z } from 'zod';
import { isLoopbackHttp } from '../api/http.js';
import { ContentType } from '../api/content-types.js';
import { FilterConfig } from '../records/filters.js';
import { SinkDefinitions, type SinkDefinition } from '../sinks/sink-settings.js';
import { settingNamesOf } from '../sinks/sink-secrets.js';
import { connectionStringProblem, type StorageSettings } from '../state/storage-account.js';
import { duration, guidPattern, positiveInt, setting } from './setting-values.js';

/** Per-tenant options: which content types, and an authId bound to the tenant, named by setting (never inline). */
const TenantOptions = z.strictObject({
  tenantId: z.string().regex(guidPattern, { error: 'tenantId must be a GUID' }).transform((v) => v.toLowerCase()),
  contentTypes: z.array(ContentType).min(1).optional(),
  /** The NAME of the setting (or Key Vault reference setting) that holds this tenant's webhook authId. */
  authIdSetting: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'authIdSetting must be a setting name' }).optional(),
  /** This tenant's API budget per minute, for every instance and caller together (default O365_REQUESTS_PER_MINUTE). */
  requestsPerMinute: z
    .number({ error: 'requestsPerMinute must be a whole number from 1 to 2000' })
    .int({ error: 'requestsPerMinute must be a whole number from 1 to 2000' })
    .min(1, { error: 'requestsPerMinute must be a whole number from 1 to 2000' })
    .max(2000, { error: 'requestsPerMinute must be at most 2000 (the API throttles a tenant at about 2,000 requests per minute)' })
    .optional(),
});

const minAuthIdLength = 16;

/** Where in a JSON setting a problem is: `[2].filter.include.recordTypes[0]`. */
function jsonPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Plain http is for local runs only, and then only to loopback: the same rule as every other plain-http caller. */
function isLocalHttp(address: string): boolean {
  try {
    return isLoopbackHttp(new URL(address));
  } catch {
    return false; // not a URL at all: reported as "must be https"
  }
}

export const relaySettingsSection = z
  .looseObject({
    AzureWebJobsStorage: setting(z.string().optional()),
    // The identity-based form the Functions host reads too (shared keys off): account name or service URIs.
    AzureWebJobsStorage__accountName: setting(z.string().regex(/^[a-z0-9]{3,24}$/, { error: 'must be a storage account name' }).optional()),
    AzureWebJobsStorage__blobServiceUri: setting(z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional()),
    AzureWebJobsStorage__queueServiceUri: setting(z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional()),
    AzureWebJobsStorage__tableServiceUri: setting(z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional()),
    AzureWebJobsStorage__clientId: setting(z.string().regex(guidPattern, { error: 'must be the GUID of a user-assigned identity' }).optional()),
    O365_WEBHOOK_URL: setting(z.string().optional()),
    O365_WEBHOOK_AUTH_ID: setting(z.string().optional()),
    O365_TENANTS: setting(z.string().optional()),
    O365_FILTER: setting(z.string().optional()),
    O365_EXCHANGE_MAILBOX_ACTIVITY: setting(z.string().optional()),
    O365_BLOB_CONTAINER: setting(
      z
        .string()
        .regex(/^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/, { error: 'must be a blob container name (3-63 lower-case letters, digits, single hyphens)' })
        .optional(),
    ),
    O365_BLOB_FORMAT: setting(z.enum(['line', 'json'], { error: 'must be line or json' }).optional()),
    O365_INITIAL_LOOKBACK: setting(duration(24 * 3_600_000, 7 * 86_400_000)),
    O365_RECONCILE_OVERLAP: setting(duration(30 * 60_000, 86_400_000)),
    O365_MAX_NOTIFICATION_BYTES: setting(positiveInt(4 * 1024 * 1024, 64 * 1024 * 1024)),
    /** An element of a content blob bigger than this is never held: it goes to the dead letter streamed. */
    O365_MAX_RECORD_BYTES: setting(positiveInt(16 * 1024 * 1024, 256 * 1024 * 1024)),
    /** How long a content worker's claim on a blob lasts (renewed while it works); a crashed worker's ends then. */
    O365_CLAIM_LEASE_SECONDS: setting(positiveInt(720, 86_400)),
    /** How old the app's view of the tenant registry may be: a tenant added, paused or removed is followed within it. */
    O365_TENANT_CACHE_SECONDS: setting(positiveInt(30, 3_600)),
    /** How long a secret read by reference (Key Vault) is kept: a rotated secret is used within it, no restart. */
    O365_SECRET_CACHE_SECONDS: setting(positiveInt(300, 86_400)),
    O365_LOG_LEVEL: setting(z.enum(['debug', 'info', 'warn', 'error'], { error: 'must be debug, info, warn or error' }).optional()),
    O365_SINKS: setting(z.string().optional()),
    O365_REDACT_DLP_DETECTIONS: setting(z.enum(['true', 'false'], { error: 'must be true or false' }).optional()),
    WEBSITE_INSTANCE_ID: setting(z.string().optional()),
  })
  .transform((s, ctx) => {
    const issue = (name: string, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    const inAzure = s.WEBSITE_INSTANCE_ID !== undefined;

    let webhookUrl: string | undefined;
    if (s.O365_WEBHOOK_URL !== undefined) {
      const url = s.O365_WEBHOOK_URL;
      if (url.startsWith('https://') || (!inAzure && isLocalHttp(url))) webhookUrl = url;
      else issue('O365_WEBHOOK_URL', inAzure ? 'must be https' : 'must be https (plain http only on 127.0.0.1 or localhost, for local runs)');
    }
    const authIds = (s.O365_WEBHOOK_AUTH_ID ?? '').split(/[\s,]+/).filter((v) => v !== '');
    if (webhookUrl !== undefined && authIds.length === 0) issue('O365_WEBHOOK_AUTH_ID', 'is required with O365_WEBHOOK_URL (the webhook must check who calls it)');
    if (authIds.some((v) => v.length < minAuthIdLength)) issue('O365_WEBHOOK_AUTH_ID', `each authId must be at least ${minAuthIdLength} characters (make it long and random)`);

    /** A setting holding JSON for `schema`: its value, or undefined once what is wrong is reported under its name. */
    const jsonSetting = <T>(name: string, text: string | undefined, schema: z.ZodType<T>, shape: { example: string; root?: string; refuse?: (parsed: unknown) => string | undefined }): T | undefined => {
      if (text === undefined) return undefined;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        issue(name, `must be JSON${shape.example}`);
        return undefined;
      }
      const refused = shape.refuse?.(parsed);
      if (refused !== undefined) return void issue(name, refused);
      const checked = schema.safeParse(parsed);
      if (checked.success) return checked.data;
      issue(name, checked.error.issues.map((i) => `${jsonPath(i.path) || (shape.root ?? '')}: ${i.message}`).join('; '));
      return undefined;
    };

    const tenants: Array<z.infer<typeof TenantOptions> & { authId?: string }> = [];
    const tenantList = jsonSetting('O365_TENANTS', s.O365_TENANTS, z.array(TenantOptions), {
      example: ': [{"tenantId": "...", "contentTypes": [...], "authIdSetting": "SETTING_NAME", "requestsPerMinute": 1800}]',
      refuse: (parsed) =>
        Array.isArray(parsed) && parsed.some((t) => t && typeof t === 'object' && ['authId', 'clientSecret', 'secret', 'password'].some((k) => k in t))
          ? 'must not hold secrets inline: name the setting that holds them (authIdSetting)'
          : undefined,
    });
    const listed = new Set<string>();
    for (const [index, tenant] of (tenantList ?? []).entries()) {
      // A second entry for one tenant would be dropped (or silently win): which one was meant is the operator's call.
      if (listed.has(tenant.tenantId)) issue('O365_TENANTS', `[${index}]: tenant ${tenant.tenantId} is listed twice`);
      listed.add(tenant.tenantId);
      const authId = tenant.authIdSetting === undefined ? undefined : (s as Record<string, unknown>)[tenant.authIdSetting];
      if (tenant.authIdSetting !== undefined && (typeof authId !== 'string' || authId.trim().length < minAuthIdLength)) {
        issue('O365_TENANTS', `${tenant.authIdSetting} (authIdSetting of ${tenant.tenantId}) must be set to an authId of at least ${minAuthIdLength} characters`);
      }
      tenants.push({ ...tenant, ...(typeof authId === 'string' ? { authId: authId.trim() } : {}) });
    }

    let filter: FilterConfig = jsonSetting('O365_FILTER', s.O365_FILTER, FilterConfig, { example: ', e.g. {"exclude": {"operations": ["FileAccessed"]}}', root: '(filter)' }) ?? {};
    if (s.O365_EXCHANGE_MAILBOX_ACTIVITY !== undefined) {
      const v = s.O365_EXCHANGE_MAILBOX_ACTIVITY.toLowerCase();
      if (v !== 'true' && v !== 'false') issue('O365_EXCHANGE_MAILBOX_ACTIVITY', 'must be true or false');
      else filter = { ...filter, exchangeMailboxActivity: v === 'true' };
    }

    const blobDefault: SinkDefinition = { kind: 'blob', name: 'blob', container: s.O365_BLOB_CONTAINER ?? 'o365-audit', format: s.O365_BLOB_FORMAT ?? 'line' };
    const configuredSinks = jsonSetting('O365_SINKS', s.O365_SINKS, SinkDefinitions, { example: ': [{"kind": "blob" | "https-json" | ..., "name": "...", ...}]', root: '(sinks)' });
    for (const name of settingNamesOf(configuredSinks ?? [])) {
      const value = (s as Record<string, unknown>)[name];
      if (typeof value !== 'string' || value.trim() === '') issue('O365_SINKS', `names the setting ${name}, but ${name} is not set`);
    }
    const sinks: SinkDefinition[] = configuredSinks ?? [blobDefault];

    let storage: StorageSettings | undefined;
    const account = s.AzureWebJobsStorage__accountName;
    const uris = {
      blobServiceUri: s.AzureWebJobsStorage__blobServiceUri ?? (account && `https://${account}.blob.core.windows.net`),
      queueServiceUri: s.AzureWebJobsStorage__queueServiceUri ?? (account && `https://${account}.queue.core.windows.net`),
      tableServiceUri: s.AzureWebJobsStorage__tableServiceUri ?? (account && `https://${account}.table.core.windows.net`),
    };
    const connectionProblem = s.AzureWebJobsStorage === undefined ? undefined : connectionStringProblem(s.AzureWebJobsStorage);
    if (connectionProblem !== undefined) issue('AzureWebJobsStorage', connectionProblem);
    else if (s.AzureWebJobsStorage !== undefined) storage = { kind: 'connectionString', connectionString: s.AzureWebJobsStorage };
    else if (uris.blobServiceUri && uris.queueServiceUri && uris.tableServiceUri) {
      storage = { kind: 'identity', blobServiceUri: uris.blobServiceUri, queueServiceUri: uris.queueServiceUri, tableServiceUri: uris.tableServiceUri, clientId: s.AzureWebJobsStorage__clientId };
    } else if (Object.values(uris).some(Boolean)) {
      issue('AzureWebJobsStorage__accountName', 'set the account name, or all three of __blobServiceUri, __queueServiceUri and __tableServiceUri');
    }

    return {
      storage,
      storageConnection: s.AzureWebJobsStorage,
      sinks,
      webhook: webhookUrl === undefined ? undefined : { address: webhookUrl, authIds },
      tenants,
      filter,
      blob: { container: s.O365_BLOB_CONTAINER ?? 'o365-audit', format: s.O365_BLOB_FORMAT ?? ('line' as const) },
      initialLookbackMs: s.O365_INITIAL_LOOKBACK,
      reconcileOverlapMs: s.O365_RECONCILE_OVERLAP,
      maxNotificationBytes: s.O365_MAX_NOTIFICATION_BYTES,
      maxRecordBytes: s.O365_MAX_RECORD_BYTES,
      /** DLP detected values (matched card numbers, ...) are redacted before any sink sees them unless set to false. */
      redactDlpDetections: s.O365_REDACT_DLP_DETECTIONS !== 'false',
      claimLeaseMs: s.O365_CLAIM_LEASE_SECONDS * 1000,
      tenantCacheMs: s.O365_TENANT_CACHE_SECONDS * 1000,
      secretCacheMs: s.O365_SECRET_CACHE_SECONDS * 1000,
      logLevel: s.O365_LOG_LEVEL ?? ('info' as const),
    };
  });
export type RelaySettings = z.infer<typeof relaySettingsSection>;
