// What the API commands share: settings from the environment (and local.settings.json), the client, the
// tenants and content types chosen on the command line, and Ctrl-C turned into a clean stop.
import { contentTypes, ContentType } from '../shared/api/content-types';
import { credentialSecrets } from '../shared/api/credentials';
import { createClientFromSettings } from '../shared/api/from-settings';
import type { ManagementClient } from '../shared/api/client';
import { loadSettings, type ApiSettings } from '../shared/config';
import { readFollowedTenants } from '../shared/services';
import { createLogger, type Logger } from '../shared/log';
import { systemClock } from '../shared/api/clock';
import { createSharedLimiter } from '../shared/api/shared-limiter';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTableBudgetStore, defaultBudgetTable, perMinuteFromSettings } from '../shared/state/table-budget';
import { UsageError } from './usage-error';

export interface ApiSession {
  settings: ApiSettings;
  client: ManagementClient;
  logger: Logger;
  signal: AbortSignal;
  /** The tenants the deployment follows: O365_TENANT_ID and, with storage, the registry's active ones (read now). */
  tenantIds(): Promise<string[]>;
  /** Number of throttled (AF429 / HTTP 429) answers the client retried. */
  throttles(): number;
  close(): void;
}

export function openApiSession(): ApiSession {
  const all = loadSettings();
  const settings = all.api;
  const base = createLogger({ level: process.env.O365_LOG_LEVEL === 'debug' ? 'debug' : 'warn', secrets: secretsOf(settings) });
  let throttled = 0;
  const logger: Logger = {
    ...base,
    warn: (message, fields) => {
      if (fields?.code === 'AF429') throttled++;
      base.warn(message, fields);
    },
  };
  // With the relay's storage configured, the CLI spends from the same per-tenant budget as the deployment.
  const storage = all.relay.storage;
  const limiter = storage === undefined ? undefined : createSharedLimiter({
    store: createTableBudgetStore(createStorageAccount(storage).table(defaultBudgetTable)),
    perMinuteOf: perMinuteFromSettings(all),
    clock: systemClock,
  });
  const client = createClientFromSettings(settings, { logger, ...(limiter ? { limiter } : {}) });
  const abort = new AbortController();
  const onInterrupt = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onInterrupt);
  return {
    settings,
    client,
    logger,
    signal: abort.signal,
    tenantIds: async () => (await readFollowedTenants(all)).map((t) => t.tenantId),
    throttles: () => throttled,
    close: () => {
      process.off('SIGINT', onInterrupt);
      client.close();
    },
  };
}

function secretsOf(settings: ApiSettings): string[] {
  return credentialSecrets(settings.credential);
}

/** --content-type values (repeatable, comma-separated), or the configured ones. */
export function chosenContentTypes(values: readonly string[], configured: readonly ContentType[]): ContentType[] {
  const chosen = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (chosen.length === 0) return [...configured];
  return chosen.map((value) => {
    const parsed = ContentType.safeParse(contentTypes.find((t) => t.toLowerCase() === value.toLowerCase()));
    if (!parsed.success) throw new UsageError(`--content-type ${value}: expected one of ${contentTypes.join(', ')}`);
    return parsed.data;
  });
}

/** --tenant values, or every followed tenant; a tenant the deployment does not follow is a usage error. */
export function chosenTenants(values: readonly string[], configured: readonly string[]): string[] {
  const chosen = values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  if (chosen.length === 0) {
    if (configured.length === 0) throw new UsageError('no tenant to work on: O365_TENANT_ID is not set and the registry table has no active tenant');
    return [...configured];
  }
  for (const tenant of chosen) {
    if (!configured.includes(tenant)) throw new UsageError(`--tenant ${tenant}: not one of the followed tenants (O365_TENANT_ID, or active in the registry table)`);
  }
  return chosen;
}
