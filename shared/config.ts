// The one settings loader, shared by the Functions app and the CLI: ONE zod schema over the environment (plus an
// optional local.settings.json `Values` block; the environment wins). The schema is a table of sections, each
// reading the settings it owns; add a section (webhook, sinks, schedules, ...) to `settingsSections` and it is
// parsed, typed and reported with the rest. A bad or missing setting stops with its name and what is wrong —
// never its value, so a secret cannot leak through an error.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CloudName, cloudNames, loopbackOrigin, resolveEndpoints, type Endpoints } from './api/clouds.js';
import { contentTypes, ContentType } from './api/content-types.js';
import type { CredentialSettings } from './api/credentials.js';
import { DEFAULT_REQUESTS_PER_MINUTE } from './api/limiter.js';
import { FilterConfig } from './records/filters.js';
import { SinkDefinitions, type SinkDefinition } from './sinks/sink-settings.js';
import { settingNamesOf } from './sinks/sink-secrets.js';
import type { StorageSettings } from './state/storage-account.js';

export type Env = Record<string, string | undefined>;

export interface ConfigProblem {
  /** The setting's name, e.g. O365_TENANT_ID (or local.settings.json). */
  setting: string;
  problem: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'CONFIG';
  readonly retryable = false;
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(`Settings are not valid:\n${problems.map((p) => `  ${p.setting}: ${p.problem}`).join('\n')}`);
    this.problems = problems;
  }
}

// ---- building blocks: every setting arrives as text; blank counts as unset ----

const unsetIfBlank = (value: unknown) => (typeof value === 'string' ? (value.trim() === '' ? undefined : value.trim()) : value);
const setting = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfBlank, schema);

const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const guid = z
  .string({ error: 'is required' })
  .regex(guidPattern, { error: 'must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' })
  .transform((v) => v.toLowerCase());

const list = (text: string) =>
  text
    .split(/[,;\s]+/)
    .map((v) => v.trim())
    .filter((v) => v !== '');

// Optional at the type level so a missing tenant is reported together with every other problem.
const guidList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const items = list(text ?? '');
    if (items.length === 0) ctx.addIssue({ code: 'custom', message: 'is required' });
    else if (items.some((v) => !guidPattern.test(v))) {
      ctx.addIssue({ code: 'custom', message: 'must be one tenant GUID, or several separated by commas (not domain names)' });
    }
    return [...new Set(items.map((v) => v.toLowerCase()))];
  });

const flag = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return false;
    const v = text.toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return false;
  });

const cloudAliases: Record<string, CloudName> = Object.fromEntries([
  ...cloudNames.map((name) => [name.toLowerCase(), name] as const),
  ['commercial', 'Enterprise'],
  ['public', 'Enterprise'],
  ['gcchigh', 'GCCHigh'],
  ['usgovhigh', 'GCCHigh'],
  ['dod', 'DoD'],
]);

const cloud = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return 'Enterprise' as CloudName;
    const found = cloudAliases[text.toLowerCase().replace(/[\s_-]/g, '')];
    if (found === undefined) ctx.addIssue({ code: 'custom', message: `must be one of ${cloudNames.join(', ')}` });
    return found ?? ('Enterprise' as CloudName);
  });

const contentTypeList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return [...contentTypes];
    const wanted = list(text);
    const byLower = new Map(contentTypes.map((t) => [t.toLowerCase(), t] as const));
    const found: ContentType[] = [];
    for (const item of wanted) {
      const match = byLower.get(item.toLowerCase());
      if (match === undefined) {
        // A content type name is not secret, and naming the bad one is the useful part of the message.
        ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 40)}" is not one of ${contentTypes.join(', ')}` });
      } else if (!found.includes(match)) found.push(match);
    }
    if (wanted.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one content type' });
    return found;
  });

const positiveInt = (fallback: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(max, { error: `must be at most ${max}` })
    .optional()
    .transform((v) => v ?? fallback);

// ---- the API section: tenants, app identity, cloud, overrides for the simulator ----

const credentialSettingNames = [
  'O365_CLIENT_SECRET',
  'O365_CLIENT_CERTIFICATE_PATH',
  'O365_USE_MANAGED_IDENTITY',
  'O365_USE_WORKLOAD_IDENTITY',
] as const;

export const apiSettingsSection = z
  .object({
    O365_TENANT_ID: setting(guidList),
    O365_CLIENT_ID: setting(guid.optional()),
    O365_CLIENT_SECRET: setting(z.string().optional()),
    O365_CLIENT_CERTIFICATE_PATH: setting(z.string().optional()),
    O365_CLIENT_CERTIFICATE_PASSWORD: setting(z.string().optional()),
    O365_USE_MANAGED_IDENTITY: setting(flag),
    O365_USE_WORKLOAD_IDENTITY: setting(flag),
    O365_CLOUD: setting(cloud),
    O365_CONTENT_TYPES: setting(contentTypeList),
    O365_PUBLISHER_ID: setting(guid.optional()),
    O365_API_BASE_URL: setting(z.string().optional()),
    O365_AUTHORITY_HOST: setting(z.string().optional()),
    O365_CA_FILE: setting(z.string().optional()),
    O365_REQUESTS_PER_MINUTE: setting(positiveInt(DEFAULT_REQUESTS_PER_MINUTE, 2000)),
    O365_RESTART_DISABLED_SUBSCRIPTIONS: setting(flag),
    /** Set by App Service / Functions in Azure: the simulator overrides are refused there. */
    WEBSITE_INSTANCE_ID: setting(z.string().optional()),
  })
  .superRefine((s, ctx) => {
    const issue = (name: string, message: string) => ctx.addIssue({ code: 'custom', path: [name], message });
    const chosen = credentialSettingNames.filter((name) => Boolean(s[name]));
    if (chosen.length === 0) {
      issue('O365_CLIENT_SECRET', `choose how to sign in: set one of ${credentialSettingNames.join(', ')}`);
    } else if (chosen.length > 1) {
      for (const name of chosen) issue(name, `only one way to sign in may be set, found ${chosen.join(' and ')}`);
    }
    const needsClientId = s.O365_CLIENT_SECRET !== undefined || s.O365_CLIENT_CERTIFICATE_PATH !== undefined;
    if (needsClientId && s.O365_CLIENT_ID === undefined) issue('O365_CLIENT_ID', 'is required with a client secret or certificate');
    if (s.O365_CLIENT_CERTIFICATE_PASSWORD !== undefined && s.O365_CLIENT_CERTIFICATE_PATH === undefined) {
      issue('O365_CLIENT_CERTIFICATE_PASSWORD', 'is only used with O365_CLIENT_CERTIFICATE_PATH');
    }
    const inAzure = s.WEBSITE_INSTANCE_ID !== undefined;
    for (const name of ['O365_API_BASE_URL', 'O365_AUTHORITY_HOST', 'O365_CA_FILE'] as const) {
      const value = s[name];
      if (value === undefined) continue;
      if (inAzure) {
        issue(name, 'is for the local simulator only and is refused when running in Azure (WEBSITE_INSTANCE_ID is set)');
        continue;
      }
      if (name === 'O365_CA_FILE') {
        if (s.O365_API_BASE_URL === undefined && s.O365_AUTHORITY_HOST === undefined) {
          issue(name, 'is only used with O365_API_BASE_URL or O365_AUTHORITY_HOST (the local simulator)');
        }
        continue;
      }
      const checked = loopbackOrigin(value);
      if (!checked.ok) issue(name, `${checked.reason} (it is for the local simulator only)`);
    }
    // Always run, so every problem is reported in one go (the fields are all text, so values are well-typed).
  }, { when: () => true })
  .transform((s) => {
    const credential: CredentialSettings =
      s.O365_CLIENT_SECRET !== undefined
        ? { kind: 'clientSecret', clientId: s.O365_CLIENT_ID ?? '', clientSecret: s.O365_CLIENT_SECRET }
        : s.O365_CLIENT_CERTIFICATE_PATH !== undefined
          ? {
              kind: 'clientCertificate',
              clientId: s.O365_CLIENT_ID ?? '',
              certificatePath: s.O365_CLIENT_CERTIFICATE_PATH,
              certificatePassword: s.O365_CLIENT_CERTIFICATE_PASSWORD,
            }
          : s.O365_USE_MANAGED_IDENTITY
            ? { kind: 'managedIdentity', clientId: s.O365_CLIENT_ID }
            : { kind: 'workloadIdentity', clientId: s.O365_CLIENT_ID };
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
      caFile: s.O365_CA_FILE,
      requestsPerMinute: s.O365_REQUESTS_PER_MINUTE,
      restartDisabledSubscriptions: s.O365_RESTART_DISABLED_SUBSCRIPTIONS,
      runningInAzure: s.WEBSITE_INSTANCE_ID !== undefined,
    };
  });

export type ApiSettings = z.infer<typeof apiSettingsSection>;

// ---- the relay section: what the Functions app adds (webhook, storage, filters, blob sink, schedules) ----

const durationUnits: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const duration = (fallbackMs: number, maxMs: number) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return fallbackMs;
      const m = /^(\d+)([mhd])$/.exec(text.toLowerCase());
      const ms = m ? Number(m[1]) * durationUnits[m[2]!]! : NaN;
      if (!(ms > 0)) ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30m, 24h or 7d' });
      else if (ms > maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${maxMs / 86_400_000} days` });
      return Math.min(ms || fallbackMs, maxMs);
    });

/** Per-tenant options: which content types, and an authId bound to the tenant, named by setting (never inline). */
const TenantOptions = z.strictObject({
  tenantId: z.string().regex(guidPattern, { error: 'tenantId must be a GUID' }).transform((v) => v.toLowerCase()),
  contentTypes: z.array(ContentType).min(1).optional(),
  /** The NAME of the setting (or Key Vault reference setting) that holds this tenant's webhook authId. */
  authIdSetting: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'authIdSetting must be a setting name' }).optional(),
});

const minAuthIdLength = 16;
const loopbackHttp = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;

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
    /** How long a content worker's claim on a blob lasts (renewed while it works); a crashed worker's ends then. */
    O365_CLAIM_LEASE_SECONDS: setting(positiveInt(720, 86_400)),
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
      if (url.startsWith('https://') || (!inAzure && loopbackHttp.test(url))) webhookUrl = url;
      else issue('O365_WEBHOOK_URL', inAzure ? 'must be https' : 'must be https (plain http only on 127.0.0.1 or localhost, for local runs)');
    }
    const authIds = (s.O365_WEBHOOK_AUTH_ID ?? '').split(/[\s,]+/).filter((v) => v !== '');
    if (webhookUrl !== undefined && authIds.length === 0) issue('O365_WEBHOOK_AUTH_ID', 'is required with O365_WEBHOOK_URL (the webhook must check who calls it)');
    if (authIds.some((v) => v.length < minAuthIdLength)) issue('O365_WEBHOOK_AUTH_ID', `each authId must be at least ${minAuthIdLength} characters (make it long and random)`);

    const tenants: Array<z.infer<typeof TenantOptions> & { authId?: string }> = [];
    if (s.O365_TENANTS !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s.O365_TENANTS);
      } catch {
        issue('O365_TENANTS', 'must be JSON: [{"tenantId": "...", "contentTypes": [...], "authIdSetting": "SETTING_NAME"}]');
      }
      if (Array.isArray(parsed) && parsed.some((t) => t && typeof t === 'object' && ['authId', 'clientSecret', 'secret', 'password'].some((k) => k in t))) {
        issue('O365_TENANTS', 'must not hold secrets inline: name the setting that holds them (authIdSetting)');
      } else if (parsed !== undefined) {
        const list = z.array(TenantOptions).safeParse(parsed);
        if (!list.success) issue('O365_TENANTS', list.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        else {
          for (const tenant of list.data) {
            const authId = tenant.authIdSetting === undefined ? undefined : (s as Record<string, unknown>)[tenant.authIdSetting];
            if (tenant.authIdSetting !== undefined && (typeof authId !== 'string' || authId.trim().length < minAuthIdLength)) {
              issue('O365_TENANTS', `${tenant.authIdSetting} (authIdSetting of ${tenant.tenantId}) must be set to an authId of at least ${minAuthIdLength} characters`);
            }
            tenants.push({ ...tenant, ...(typeof authId === 'string' ? { authId: authId.trim() } : {}) });
          }
        }
      }
    }

    let filter: FilterConfig = {};
    if (s.O365_FILTER !== undefined) {
      try {
        const parsed = FilterConfig.safeParse(JSON.parse(s.O365_FILTER));
        if (parsed.success) filter = parsed.data;
        else issue('O365_FILTER', parsed.error.issues.map((i) => `${i.path.join('.') || '(filter)'}: ${i.message}`).join('; '));
      } catch {
        issue('O365_FILTER', 'must be JSON, e.g. {"exclude": {"operations": ["FileAccessed"]}}');
      }
    }
    if (s.O365_EXCHANGE_MAILBOX_ACTIVITY !== undefined) {
      const v = s.O365_EXCHANGE_MAILBOX_ACTIVITY.toLowerCase();
      if (v !== 'true' && v !== 'false') issue('O365_EXCHANGE_MAILBOX_ACTIVITY', 'must be true or false');
      else filter = { ...filter, exchangeMailboxActivity: v === 'true' };
    }

    const blobDefault: SinkDefinition = { kind: 'blob', name: 'blob', container: s.O365_BLOB_CONTAINER ?? 'o365-audit', format: s.O365_BLOB_FORMAT ?? 'line' };
    let sinks: SinkDefinition[] = [blobDefault];
    if (s.O365_SINKS !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s.O365_SINKS);
      } catch {
        issue('O365_SINKS', 'must be JSON: [{"kind": "blob" | "https-json" | ..., "name": "...", ...}]');
      }
      if (parsed !== undefined) {
        const checked = SinkDefinitions.safeParse(parsed);
        if (!checked.success) issue('O365_SINKS', checked.error.issues.map((i) => `${i.path.join('.') || '(sinks)'}: ${i.message}`).join('; '));
        else {
          sinks = checked.data;
          for (const name of settingNamesOf(sinks)) {
            const value = (s as Record<string, unknown>)[name];
            if (typeof value !== 'string' || value.trim() === '') issue('O365_SINKS', `names the setting ${name}, but ${name} is not set`);
          }
        }
      }
    }

    let storage: StorageSettings | undefined;
    const account = s.AzureWebJobsStorage__accountName;
    const uris = {
      blobServiceUri: s.AzureWebJobsStorage__blobServiceUri ?? (account && `https://${account}.blob.core.windows.net`),
      queueServiceUri: s.AzureWebJobsStorage__queueServiceUri ?? (account && `https://${account}.queue.core.windows.net`),
      tableServiceUri: s.AzureWebJobsStorage__tableServiceUri ?? (account && `https://${account}.table.core.windows.net`),
    };
    if (s.AzureWebJobsStorage !== undefined) storage = { kind: 'connectionString', connectionString: s.AzureWebJobsStorage };
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
      /** DLP detected values (matched card numbers, ...) are redacted before any sink sees them unless set to false. */
      redactDlpDetections: s.O365_REDACT_DLP_DETECTIONS !== 'false',
      claimLeaseMs: s.O365_CLAIM_LEASE_SECONDS * 1000,
      logLevel: s.O365_LOG_LEVEL ?? ('info' as const),
    };
  });
export type RelaySettings = z.infer<typeof relaySettingsSection>;

/** The sections of the settings; each reads the whole environment and owns its own names. Add new ones here. */
export const settingsSections = {
  api: apiSettingsSection,
  relay: relaySettingsSection,
} as const;

/** The one schema: `{ [section]: environment }` in, typed settings per section out. */
export const settingsSchema = z.object(settingsSections);
export type Settings = z.infer<typeof settingsSchema>;

function problemsOf(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => {
    // Paths are [section, SETTING_NAME, ...]; a cross-field issue names its setting the same way.
    const name = issue.path.find((p, i) => i > 0 && typeof p === 'string') ?? issue.path[0] ?? 'settings';
    const problem = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return { setting: String(name), problem };
  });
}

/** Parses settings from an environment-like record. Throws ConfigError naming every bad setting. */
/** In Azure an app setting whose Key Vault reference did not resolve arrives as the reference text itself. */
const unresolvedKeyVaultReference = /^\s*@Microsoft\.KeyVault\(/i;

export function parseSettings(env: Env): Settings {
  const unresolved = Object.entries(env).filter(([, value]) => value !== undefined && unresolvedKeyVaultReference.test(value));
  if (unresolved.length > 0) {
    throw new ConfigError(
      unresolved.map(([setting]) => ({
        setting,
        problem: "is a Key Vault reference that did not resolve: give the app's identity Key Vault Secrets User and check the secret URI",
      })),
    );
  }
  const input = Object.fromEntries(Object.keys(settingsSections).map((section) => [section, env]));
  const parsed = settingsSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error));
  const unknownTenants = parsed.data.relay.tenants.filter((t) => !parsed.data.api.tenantIds.includes(t.tenantId));
  if (unknownTenants.length > 0) {
    throw new ConfigError([{ setting: 'O365_TENANTS', problem: `names tenants that are not in O365_TENANT_ID: ${unknownTenants.map((t) => t.tenantId).join(', ')}` }]);
  }
  return parsed.data;
}

export interface LoadSettingsOptions {
  env?: Env;
  /** A local.settings.json whose `Values` fill in what the environment lacks. Default: ./local.settings.json if
   * present; null to skip. */
  localSettingsFile?: string | null;
}

/** The `Values` of a local.settings.json, as text settings. */
export function readLocalSettings(file: string): Env {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError([{ setting: path.basename(file), problem: 'cannot be read as JSON' }]);
  }
  const shape = z
    .object({
      IsEncrypted: z.boolean().optional(),
      Values: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    })
    .safeParse(parsed);
  if (!shape.success) throw new ConfigError([{ setting: path.basename(file), problem: 'has no valid "Values" object' }]);
  if (shape.data.IsEncrypted) {
    throw new ConfigError([{ setting: path.basename(file), problem: 'is encrypted; decrypt it (func settings decrypt) or use the environment' }]);
  }
  return Object.fromEntries(Object.entries(shape.data.Values ?? {}).map(([k, v]) => [k, String(v)]));
}

/** The environment with a local.settings.json `Values` block filling in what it lacks. */
function mergedEnvironment(options: LoadSettingsOptions): Env {
  const env = options.env ?? process.env;
  const file = options.localSettingsFile === undefined ? path.resolve('local.settings.json') : options.localSettingsFile;
  const fromFile = file !== null && existsSync(file) ? readLocalSettings(file) : {};
  const merged: Env = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') merged[key] = value;
  }
  return merged;
}

export function loadSettings(options: LoadSettingsOptions = {}): Settings {
  return parseSettings(mergedEnvironment(options));
}

/** One setting's value, from the same sources as loadSettings (for secrets named by other settings). */
export function settingValue(name: string, options: LoadSettingsOptions = {}): string {
  const value = mergedEnvironment(options)[name];
  if (value === undefined || value.trim() === '') throw new ConfigError([{ setting: name, problem: 'is not set' }]);
  return value.trim();
}
