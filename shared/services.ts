// The composition root: settings read once, and every Azure SDK client, store and sink built in this one place,
// then handed to the pure pipeline. Nothing here touches the network until a trigger calls `ready()`.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { createHttpTransport } from './api/http';
import type { ManagementClient } from './api/client';
import type { ContentType } from './api/content-types';
import { createCredential, credentialSecrets } from './api/credentials';
import { createClientFromSettings } from './api/from-settings';
import { ConfigError, loadSettings, settingValue, type Settings } from './config';
import { createLogger, errorFields, type Logger } from './log';
import type { WebhookPolicy } from './pipeline/accept-notifications';
import type { Ledger } from './pipeline/ledger';
import type { WebhookAuthId } from './pipeline/webhook-auth';
import { compileFilter, type RecordFilter } from './records/filters';
import { createBlobDeadLetter, deadLetterContainerName } from './sinks/blob-dead-letter';
import { createSinks, type ConfiguredSink } from './sinks/create-sinks';
import { sinksForTenant } from './sinks/routing';
import { createTenantTokens } from './sinks/tenant-token';
import { secretSettingNames } from './sinks/sink-secrets';
import type { DeadLetterStore } from './sinks/dead-letter';
import type { Sink } from './sinks/sink';
import { createContentQueue, type ContentQueue } from './state/content-queue';
import { createKeepQueue, createReconcileQueue, type MessageQueue } from './state/plan-queues';
import type { KeepMessage, ReconcileMessage } from './pipeline/reconcile-plan';
import { createStorageAccount } from './state/storage-account';
import { createTableLedger, defaultLedgerTable } from './state/table-ledger';
import { createTableBudgetStore, defaultBudgetTable, perMinuteFromSettings } from './state/table-budget';
import { createSharedLimiter } from './api/shared-limiter';
import { systemClock } from './api/clock';
import { noTelemetry, type Telemetry } from './telemetry';
import { appInsightsTelemetry } from './telemetry/app-insights';
import { followedTenants, registryDisagreements, type FollowedTenant, type TenantRecord } from './pipeline/tenants';
import { createSecretResolver, type KeyVaultAccess, type SecretResolver } from './settings/secret-reference';
import { createTenantRegistry, createTenantView, type TenantRegistry, type TenantView } from './state/tenant-registry';

export interface TenantStreams {
  tenantId: string;
  contentTypes: readonly ContentType[];
}

/** What the webhook needs: settings only, so the handshake path builds no client. */
export interface WebhookContext {
  settings: Settings;
  /** The settings' policy; the webhook uses currentPolicy(), which adds the registry's active tenants. */
  policy: WebhookPolicy;
  /** The policy with the registry's active tenants (cached view); never throws (falls back to the settings). */
  currentPolicy(): Promise<WebhookPolicy>;
  logger: Logger;
  /** Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set, else a no-op. */
  telemetry: Telemetry;
}

export interface RelayServices extends WebhookContext {
  client: ManagementClient;
  ledger: Ledger;
  queue: ContentQueue;
  /** The fan-out queues: one message per stream to reconcile, one per tenant whose subscriptions to keep. */
  reconcileQueue: MessageQueue<ReconcileMessage>;
  keepQueue: MessageQueue<KeepMessage>;
  deadLetter: DeadLetterStore;
  sinksFor(tenantId: string): readonly Sink[];
  /** A sink by name; with a tenant, as it delivers that tenant's records (its own token; await tenantRecords first). */
  sinkNamed(name: string, tenantId?: string): Sink | undefined;
  filter: RecordFilter;
  /** The settings' tenants only; the timers use followed(). */
  tenants: readonly TenantStreams[];
  /** The settings' tenants and the registry's active ones; throws ConfigError when the two disagree. */
  followed(): Promise<FollowedTenant[]>;
  registry: TenantRegistry;
  /** Reads the registry (cached view) so sinksFor routes a registry tenant by its row: await before sinksFor. */
  tenantRecords(): Promise<readonly TenantRecord[]>;
  /** This process, for claims and leases. */
  instanceId: string;
  /** Creates the queue, table and containers once per process. */
  ready(): Promise<void>;
}

export function tenantStreams(settings: Settings): TenantStreams[] {
  return settings.api.tenantIds.map((tenantId) => ({
    tenantId,
    contentTypes: settings.relay.tenants.find((t) => t.tenantId === tenantId)?.contentTypes ?? settings.api.contentTypes,
  }));
}

function webhookPolicy(settings: Settings): WebhookPolicy {
  const authIds: WebhookAuthId[] = (settings.relay.webhook?.authIds ?? []).map((value) => ({ value }));
  for (const tenant of settings.relay.tenants) {
    if (tenant.authId !== undefined) authIds.push({ value: tenant.authId, tenants: new Set([tenant.tenantId]) });
  }
  return {
    clientId: settings.api.clientId ?? '',
    tenants: new Map(tenantStreams(settings).map((t) => [t.tenantId, new Set(t.contentTypes)])),
    authIds,
    apiOrigin: settings.api.endpoints.apiOrigin,
    maxBodyBytes: settings.relay.maxNotificationBytes,
  };
}

function secretsOf(settings: Settings): string[] {
  const secrets = [...(settings.relay.webhook?.authIds ?? []), ...settings.relay.tenants.flatMap((t) => (t.authId ? [t.authId] : []))];
  secrets.push(...credentialSecrets(settings.api.credential));
  for (const name of secretSettingNames(settings.relay.sinks)) {
    const value = settingValue(name);
    if (value) secrets.push(value);
  }
  if (settings.relay.storageConnection) {
    const key = /AccountKey=([^;]+)/.exec(settings.relay.storageConnection)?.[1];
    if (key) secrets.push(key);
  }
  return secrets;
}

let webhookContext: WebhookContextInternal | undefined;
let services: RelayServices | undefined;

export function relayWebhookContext(): WebhookContextInternal {
  if (!webhookContext) {
    const settings = loadSettings();
    const logger = createLogger({ level: settings.relay.logLevel, secrets: secretsOf(settings) });
    const telemetry = appInsightsTelemetry(process.env, (err) => logger.warn('Application Insights did not start; telemetry is off', errorFields(err))) ?? noTelemetry;
    const policy = webhookPolicy(settings);
    const registry = settings.relay.storage === undefined ? undefined : createTenantRegistry(createStorageAccount(settings.relay.storage).table(settings.api.tenantTable));
    const view = registry && tenantViewOf(registry, settings.relay.tenantCacheMs, logger, telemetry);
    // Secret references (a tenant's authId, its SIEM tokens) are read at run time; Key Vault with the app's identity.
    const resolver = createSecretResolver({
      setting: (name) => settingValue(name),
      keyVault: () => keyVaultAccess(settings),
      ttlMs: settings.relay.secretCacheMs,
    });
    webhookContext = { settings, policy, logger, telemetry, currentPolicy: view === undefined ? () => Promise.resolve(policy) : policyFollowing(settings, policy, view, resolver, logger), registry, view, resolver };
  }
  return webhookContext;
}

/**
 * How Key Vault is read: with the app's identity (the user-assigned one storage uses, else the default chain); in
 * local runs with O365_KEYVAULT_URL_OVERRIDE, from the fake vault with the app's own credential in its home tenant
 * (the simulator's token endpoint), trusting O365_CA_FILE.
 */
function keyVaultAccess(settings: Settings): KeyVaultAccess {
  const failure = (kind: string, detail: string) => new Error(`Key Vault: ${kind}: ${detail}`);
  const { api } = settings;
  if (api.keyVaultOrigin !== undefined) {
    const http = createHttpTransport({ ca: api.caFile === undefined ? undefined : readFileSync(api.caFile, 'utf8'), failure });
    return { credential: createCredential(api.credential, api.publisherId, api.endpoints, http.agent), http, origin: api.keyVaultOrigin };
  }
  const storage = settings.relay.storage;
  return {
    credential: storage?.kind === 'identity' && storage.clientId ? new ManagedIdentityCredential({ clientId: storage.clientId }) : new DefaultAzureCredential(),
    http: createHttpTransport({ failure }),
  };
}

type WebhookContextInternal = WebhookContext & { registry?: TenantRegistry | undefined; view?: TenantView | undefined; resolver: SecretResolver };

function tenantViewOf(registry: TenantRegistry, ttlMs: number, logger: Logger, telemetry: Telemetry): TenantView {
  const reported = new Set<string>();
  return createTenantView({
    registry,
    ttlMs,
    onOdd: (rows) => {
      // Read again every TTL: each odd row is counted and logged once per process, not once per read.
      const odd = rows.filter((r) => !reported.has(`${r.rowKey}\n${r.problem}`));
      if (odd.length === 0) return;
      for (const r of odd) reported.add(`${r.rowKey}\n${r.problem}`);
      telemetry.metric('tenants.oddRows', odd.length);
      logger.error('tenant registry rows not valid: ignored until fixed', { table: registry.table, rows: odd });
    },
    onStale: (err) => logger.warn('tenant registry not read: using the last list', { table: registry.table, ...errorFields(err) }),
  });
}

/** The settings' tenants and the registry's active ones, or ConfigError naming both sides where they disagree. */
async function followedFrom(settings: Settings, view: TenantView, table: string): Promise<FollowedTenant[]> {
  const records = await view.records();
  const own = tenantStreams(settings);
  const problems = registryDisagreements(own, records, table);
  if (problems.length > 0) throw new ConfigError(problems.map((problem) => ({ setting: 'O365_TENANT_ID', problem })));
  return followedTenants(own, records);
}

/**
 * For commands (doctor, report, the API commands): the settings' tenants and the registry's active ones, read
 * once now. Without storage only the settings' (a table-only deployment always has storage: the loader says so).
 */
export async function readFollowedTenants(settings: Settings): Promise<FollowedTenant[]> {
  if (settings.relay.storage === undefined) return tenantStreams(settings);
  const registry = createTenantRegistry(createStorageAccount(settings.relay.storage).table(settings.api.tenantTable));
  return followedFrom(settings, createTenantView({ registry, ttlMs: 0 }), registry.table);
}

/** The webhook policy, rebuilt when the view's list changes; the settings' policy when the registry cannot be used. */
function policyFollowing(settings: Settings, base: WebhookPolicy, view: TenantView, resolver: SecretResolver, logger: Logger): () => Promise<WebhookPolicy> {
  let built: { from: readonly unknown[]; policy: Promise<WebhookPolicy> } | undefined;
  return async () => {
    let records;
    try {
      records = await view.records();
    } catch (err) {
      logger.error('tenant registry not readable: the webhook accepts the settings\' tenants only', errorFields(err));
      return base;
    }
    if (built?.from === records) return built.policy;
    const build = async (): Promise<WebhookPolicy> => {
      const problems = registryDisagreements(tenantStreams(settings), records, settings.api.tenantTable);
      if (problems.length > 0) {
        logger.error('settings and tenant registry disagree: the webhook accepts the settings\' tenants only', { problems });
        return base;
      }
      const tenants = followedTenants(tenantStreams(settings), records);
      const authIds = [...base.authIds];
      for (const t of tenants) {
        if (t.authIdRef === undefined) continue;
        try {
          const value = await resolver.resolve(t.authIdRef);
          logger.remember([value]);
          authIds.push({ value, tenants: new Set([t.tenantId]) });
        } catch (err) {
          logger.error('tenant authId reference not resolved: its own authId is not accepted', { tenantId: t.tenantId, ...errorFields(err) });
        }
      }
      return { ...base, tenants: new Map(tenants.map((t) => [t.tenantId, new Set(t.contentTypes)])), authIds };
    };
    built = { from: records, policy: build() };
    return built.policy;
  };
}

export function relayServices(): RelayServices {
  if (services) return services;
  const context = relayWebhookContext();
  const { settings, policy, logger, telemetry } = context;
  if (settings.relay.storage === undefined) {
    throw new ConfigError([{ setting: 'AzureWebJobsStorage', problem: 'is required, or AzureWebJobsStorage__accountName (the queue, ledger and blob sink live there)' }]);
  }
  const storage = createStorageAccount(settings.relay.storage);
  const sinks = createSinks(settings.relay.sinks, { storage, secret: settingValue, logger });
  const deadLetter = createBlobDeadLetter(storage.blobService.getContainerClient(deadLetterContainerName));
  const ledger = createTableLedger({ tableClient: storage.table(defaultLedgerTable) });
  const queue = createContentQueue(storage.queue);
  const reconcileQueue = createReconcileQueue(storage.queue);
  const keepQueue = createKeepQueue(storage.queue);
  const registry = context.registry ?? createTenantRegistry(storage.table(settings.api.tenantTable));
  const view = context.view ?? tenantViewOf(registry, settings.relay.tenantCacheMs, logger, telemetry);
  const tenantTokens = createTenantTokens({ resolver: context.resolver, logger, telemetry });
  /** The tenant's registry row, as last read. */
  const rowOf = (tenantId: string) => view.peek().find((r) => r.tenantId === tenantId.toLowerCase());
  /** The sink sending the tenant's own token when its row names one for it. */
  const withTenantToken = (sink: ConfiguredSink, row: TenantRecord | undefined): Sink => {
    const reference = row && Object.hasOwn(row.sinkTokens, sink.name) ? row.sinkTokens[sink.name] : undefined;
    return row === undefined || reference === undefined ? sink : tenantTokens.sinkFor(sink, row.tenantId, reference);
  };
  let ready: Promise<void> | undefined;
  services = {
    settings,
    policy,
    currentPolicy: context.currentPolicy,
    registry,
    followed: () => followedFrom(settings, view, registry.table),
    tenantRecords: () => view.records(),
    logger,
    ledger,
    queue,
    reconcileQueue,
    keepQueue,
    deadLetter,
    // A registry tenant's own sinks by name (its row, as last read); otherwise the sinks' own routing. One blob is
    // one tenant's, so a sink with the tenant's own token never carries another tenant's records.
    sinksFor: (tenantId) => {
      const row = rowOf(tenantId);
      const named = row?.sinks ?? [];
      const routed = sinksForTenant(sinks, tenantId, named);
      // Thrown, so the blob is retried and then kept in the poison queue (replay-poison after fixing the row).
      if (routed.length === 0) throw new ConfigError([{ setting: registry.table, problem: `tenant ${tenantId} routes to ${named.join(', ')}, none of which is in O365_SINKS` }]);
      return routed.map((sink) => withTenantToken(sink, row));
    },
    sinkNamed: (name, tenantId) => {
      const sink = sinks.find((s) => s.name === name);
      return sink === undefined || tenantId === undefined ? sink : withTenantToken(sink, rowOf(tenantId));
    },
    filter: compileFilter(settings.relay.filter),
    tenants: tenantStreams(settings),
    telemetry,
    // One budget per tenant for every instance and caller: a bucket in Table storage, taken from in blocks.
    client: createClientFromSettings(settings.api, {
      logger,
      telemetry,
      limiter: createSharedLimiter({ store: createTableBudgetStore(storage.table(defaultBudgetTable)), perMinuteOf: perMinuteFromSettings(settings), clock: systemClock }),
    }),
    instanceId: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    ready: () =>
      (ready ??= Promise.all([queue.ensure(), reconcileQueue.ensure(), keepQueue.ensure(), deadLetter.ensure()]).then(
        () => undefined,
        (err: unknown) => {
          ready = undefined; // try again on the next invocation
          throw err;
        },
      )),
  };
  return services;
}

/** Tests and the local host load new settings between runs. */
export function resetRelayServices(): void {
  services?.client.close();
  services = undefined;
  webhookContext = undefined;
}
