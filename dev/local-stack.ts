// The whole relay on one machine: Azurite in-process, the API simulator with a demo tenant whose webhook is the
// local Functions host, and the host running the real app. Used by `npm start` and by the end-to-end tests.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { Logger } from '../shared/log';
import { contentTypes } from '../shared/api/content-types';
import { TenantRecord } from '../shared/pipeline/tenants';
import { resetRelayServices } from '../shared/services';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTenantRegistry } from '../shared/state/tenant-registry';
import { startAzurite, type RunningAzurite } from './azurite';
import { freePort } from './free-port';
import { startHost, type RunningHost } from './host/host';
import { simulatorClientSettings, startSimulator, type Simulator, type SimulatorOptions } from './simulator';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const demoTenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
export const demoClientId = '676e8273-3c93-4205-910f-614bb4396a55';

export interface LocalStackOptions {
  /** Port of the Functions host; 0 picks a free one. Default 7071. */
  port?: number;
  /** Settings that override the demo's (e.g. O365_WEBHOOK_AUTH_ID, O365_TENANT_ID, O365_BLOB_FORMAT). */
  overrides?: Record<string, string | undefined>;
  /** The built app: a folder with package.json main, or a module. Default: this repository (its bundle). */
  appPath?: string;
  hostJsonPath?: string;
  simulator?: Partial<SimulatorOptions>;
  logger?: Logger;
  /** Inbound allow-list of the host's HTTP triggers, like restrictWebhookToServiceTag in Azure (others get 403). */
  allowedSourceAddresses?: readonly string[];
}

export interface LocalStack {
  tenantId: string;
  host: RunningHost;
  simulator: Simulator;
  azurite: RunningAzurite;
  /** The app settings the host runs with (secrets included: local demo values). */
  settings: Record<string, string>;
  blobs: ContainerClient;
  close(): Promise<void>;
}

const pick = (overrides: Record<string, string | undefined>, name: string, fallback: string) => overrides[name] ?? fallback;

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const overrides = options.overrides ?? {};
  // A table-only deployment (O365_TENANT_ID set blank, O365_TENANT_REGISTRY named): the demo tenant is a registry row.
  const tableOnly = overrides.O365_TENANT_ID?.trim() === '' && (overrides.O365_TENANT_REGISTRY ?? '').trim() !== '';
  const tenantId = (tableOnly ? demoTenantId : pick(overrides, 'O365_TENANT_ID', demoTenantId)).toLowerCase();
  const clientId = pick(overrides, 'O365_CLIENT_ID', demoClientId).toLowerCase();
  const clientSecret = pick(overrides, 'O365_CLIENT_SECRET', randomBytes(24).toString('base64url'));
  const port = options.port === 0 ? await freePort() : (options.port ?? 7071);

  const azurite = await startAzurite();
  const closers: Array<() => Promise<void>> = [() => azurite.close()];
  try {
    const simulator = await startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }], notifyRetryDelaysMs: [500, 1000, 2000, 4000], ...options.simulator });
    closers.unshift(() => simulator.close());
    const settings: Record<string, string> = {
      AzureWebJobsStorage: azurite.connectionString,
      ...simulatorClientSettings(simulator, { tenantId, clientId, clientSecret }),
      O365_WEBHOOK_URL: `http://127.0.0.1:${port}/api/notifications`,
      O365_WEBHOOK_AUTH_ID: randomBytes(24).toString('base64url'),
      O365_RECONCILE_SCHEDULE: '0 * * * * *',
      // Locally nothing reads the heartbeat's metrics (no Application Insights), and a beat lists subscriptions: it
      // would only add API calls to what tests count. Tests fire it (host.fireTimer('heartbeat')).
      O365_HEARTBEAT_SCHEDULE: '0 0 0 1 1 *',
      O365_LOG_LEVEL: 'warn',
    };
    for (const [name, value] of Object.entries(overrides)) if (value !== undefined) settings[name] = value;
    if (tableOnly) {
      delete settings.O365_TENANT_ID;
      settings.O365_PUBLISHER_ID ??= tenantId; // required without O365_TENANT_ID: the app registration's home tenant
      await addActiveTenant(azurite.connectionString, settings.O365_TENANT_REGISTRY!, tenantId, settings.O365_CONTENT_TYPES);
    }
    resetRelayServices();
    const host = await startHost({
      appPath: options.appPath ?? repoRoot,
      hostJsonPath: options.hostJsonPath ?? path.join(repoRoot, 'host.json'),
      env: settings,
      port,
      cwd: repoRoot,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.allowedSourceAddresses ? { allowedSourceAddresses: options.allowedSourceAddresses } : {}),
    });
    closers.unshift(() => host.close());
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(settings.O365_BLOB_CONTAINER ?? 'o365-audit');
    return {
      tenantId,
      host,
      simulator,
      azurite,
      settings,
      blobs,
      close: async () => {
        for (const close of closers) await close().catch(() => undefined);
        resetRelayServices();
      },
    };
  } catch (err) {
    for (const close of closers) await close().catch(() => undefined);
    throw err;
  }
}

/** The demo tenant as an active registry row, as `o365-relay tenants add` leaves it once its checks pass. */
async function addActiveTenant(connectionString: string, table: string, tenantId: string, contentTypeSetting: string | undefined): Promise<void> {
  const now = new Date().toISOString();
  const chosen = (contentTypeSetting ?? '').split(/[,;\s]+/).filter((t) => t !== '');
  const record = TenantRecord.parse({
    tenantId,
    displayName: 'Demo (registry)',
    cloud: 'Enterprise',
    contentTypes: chosen.length > 0 ? chosen : [...contentTypes],
    state: 'active',
    added: now,
    changed: now,
  });
  await createTenantRegistry(createStorageAccount({ kind: 'connectionString', connectionString }).table(table)).add(record);
}
