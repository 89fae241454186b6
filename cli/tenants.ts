// o365-relay tenants add|set|list|show|pause|resume|remove|consent-url: the tenant registry (table relaytenants).
// The running app follows the table within its view's TTL (30 s): no restart. `add` signs in and reads the audit
// log for the tenant (the doctor's checks) and activates it only when both pass; `set` edits a row under its ETag;
// `remove` stops its subscriptions.
import { clouds, CloudName } from '../shared/api/clouds';
import type { ContentType } from '../shared/api/content-types';
import { loadSettings, settingValue, type Settings } from '../shared/config';
import { redact } from '../shared/log';
import { applyAction, applyEdit, consentUrl, editedFields, TenantRecord, type TenantAction } from '../shared/pipeline/tenants';
import { createStorageAccount } from '../shared/state/storage-account';
import { createTenantRegistry, defaultTenantTable, type TenantRegistry } from '../shared/state/tenant-registry';
import { openApiSession } from './api-session';
import { parseCommandLine } from './command-line';
import { tenantAccessChecks } from './doctor';
import { exitCodeOf, formatReport } from './doctor-report';
import { readTenantFlags, type FlagContext, type TenantFlagValues } from './tenant-flags';
import { UsageError } from './usage-error';

export const tenantsUsage = `usage: o365-relay tenants add|set|list|show|pause|resume|remove|consent-url [--tenant ID] [options]
  The tenant registry (table ${defaultTenantTable}, or O365_TENANT_REGISTRY); the app follows it within 30 s, without a restart.
  add --tenant ID --name NAME [--content-type T ...] [--sink NAME ...] [--auth-id-ref SETTING|KEYVAULT_SECRET_URI]
      [--sink-token SINK=SETTING|KEYVAULT_SECRET_URI ...] [--cloud C]: adds the tenant as onboarding, checks sign-in
      and the audit log, then makes it active. --sink-token: the tenant's own token for that https-json or
      splunk-hec sink, by reference (read at run time; never the token itself).
  set --tenant ID [--name N] [--content-type T ...] [--sink NAME ...] [--auth-id-ref REF | --no-auth-id-ref]
      [--sink-token SINK=REF ...] [--no-sink-token SINK ...]: changes what is given of a row that is not removed,
      checked as add checks it; --content-type and --sink replace the lists. Types taken from an active or paused
      tenant have their subscriptions stopped; new ones start at the keeper's next run.
  list | show --tenant ID | pause --tenant ID | resume --tenant ID
  remove --tenant ID: stops its subscriptions; its ledger stays until the keeper purges it.
  consent-url --tenant ID [--redirect-uri URI]: the admin-consent link for the app registration.`;

const io = { out: (text: string) => process.stdout.write(text), err: (text: string) => process.stderr.write(text) };

export async function runTenants(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      'content-type': { type: 'string', multiple: true, default: [] },
      sink: { type: 'string', multiple: true, default: [] },
      'auth-id-ref': { type: 'string' },
      'no-auth-id-ref': { type: 'boolean' },
      'sink-token': { type: 'string', multiple: true, default: [] },
      'no-sink-token': { type: 'string', multiple: true, default: [] },
      cloud: { type: 'string' },
      'redirect-uri': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(tenantsUsage + '\n');
    return 0;
  }
  const action = positionals[0];
  const tenantId = values.tenant?.trim().toLowerCase();
  const needTenant = () => {
    if (tenantId === undefined || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId)) throw new UsageError(`tenants ${action}: --tenant must be a tenant GUID`);
    return tenantId;
  };
  const settings = loadSettings();
  if (action === 'consent-url') return printConsentUrl(settings, needTenant(), values['redirect-uri']);
  const registry = registryOf(settings);
  switch (action) {
    case 'list':
    {
      const { records, odd } = await registry.list();
      for (const r of records) io.out(`${r.tenantId} ${r.state} ${r.contentTypes.join(',')} ${JSON.stringify(r.displayName)}\n`);
      // A row the app ignores (hand-edited, half written) is shown, not hidden: the others are listed as usual.
      for (const o of odd) io.err(`${o.rowKey}: not a valid row, ignored by the app (${o.problem})\n`);
      return odd.length > 0 ? 2 : 0;
    }
    case 'show': {
      const record = await registry.get(needTenant());
      if (record === undefined) return refuse(`tenant ${tenantId} is not in table ${registry.table}`);
      io.out(JSON.stringify(record, null, 2) + '\n');
      return 0;
    }
    case 'add':
      return add(settings, registry, needTenant(), values);
    case 'set':
      return set(settings, registry, needTenant(), values);
    case 'pause':
    case 'resume':
    case 'remove':
      return change(settings, registry, needTenant(), action);
    default:
      throw new UsageError(`expected add, set, list, show, pause, resume, remove or consent-url\n${tenantsUsage}`);
  }
}

function registryOf(settings: Settings): TenantRegistry {
  if (settings.relay.storage === undefined) throw new UsageError('tenants: AzureWebJobsStorage (or AzureWebJobsStorage__accountName) is required: the registry is a table there');
  return createTenantRegistry(createStorageAccount(settings.relay.storage).table(settings.api.tenantTable));
}

function refuse(message: string): number {
  io.err(`o365-relay tenants: ${message}\n`);
  return 1;
}

async function add(settings: Settings, registry: TenantRegistry, tenantId: string, values: TenantFlagValues & { cloud?: string | undefined }): Promise<number> {
  // One place per tenant: the settings or the table, never both (the app would refuse the disagreement).
  if (settings.api.tenantIds.includes(tenantId)) return refuse(`tenant ${tenantId} is already followed through O365_TENANT_ID; a tenant lives in the settings or in table ${registry.table}, not both`);
  const cloud = CloudName.safeParse(values.cloud ?? settings.api.endpoints.cloud);
  if (!cloud.success) throw new UsageError(`--cloud: expected one of ${Object.keys(clouds).join(', ')}`);
  if (cloud.data !== settings.api.endpoints.cloud) return refuse(`--cloud ${cloud.data}: this deployment signs in to ${settings.api.endpoints.cloud} (O365_CLOUD); one deployment per cloud`);
  if (values['no-auth-id-ref'] || values['no-sink-token'].length > 0) throw new UsageError('tenants add: --no-auth-id-ref and --no-sink-token are for tenants set');
  const flags = readTenantFlags(flagContext(settings), values);
  if (!flags.ok) return refuse(flags.problems.join('\n'));
  const { edit } = flags;
  const now = new Date().toISOString();
  const record = TenantRecord.safeParse({
    tenantId,
    displayName: edit.displayName ?? tenantId,
    cloud: cloud.data,
    contentTypes: edit.contentTypes ?? settings.api.contentTypes,
    sinks: edit.sinks ?? [],
    ...(typeof edit.authIdRef === 'string' ? { authIdRef: edit.authIdRef } : {}),
    sinkTokens: edit.sinkTokens ?? {},
    state: 'onboarding',
    added: now,
    changed: now,
  });
  if (!record.success) return refuse(`tenants add: ${record.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  if (!(await registry.add(record.data))) {
    const existing = await registry.get(tenantId);
    if (existing?.state !== 'onboarding') return refuse(`tenant ${tenantId} is already in table ${registry.table} (${existing?.state ?? 'unreadable'}); pause, resume or remove it instead`);
    // An onboarding row left by an `add` whose checks failed: check again (consent may have been granted since).
  }
  io.out(`${tenantId} onboarding: checking sign-in and the audit log\n`);
  const { results, secrets } = await tenantAccessChecks(settings, { tenantId, contentTypes: record.data.contentTypes });
  io.out(redact(formatReport(results), secrets));
  if (exitCodeOf(results) !== 0) {
    io.err(`tenant ${tenantId} stays onboarding: fix the checks above (consent link: o365-relay tenants consent-url --tenant ${tenantId}) and run add again\n`);
    return 2;
  }
  const activated = await registry.change(tenantId, 'activate', new Date());
  if (!activated.ok) return refuse(activated.reason);
  io.out(`${tenantId} active: the app starts its subscriptions at the keeper's next run\n`);
  return 0;
}

function flagContext(settings: Settings): FlagContext {
  return {
    sinks: settings.relay.sinks,
    setting: (name) => {
      try {
        return settingValue(name);
      } catch {
        return undefined;
      }
    },
  };
}

async function set(settings: Settings, registry: TenantRegistry, tenantId: string, values: TenantFlagValues): Promise<number> {
  if (settings.api.tenantIds.includes(tenantId)) return refuse(`tenant ${tenantId} is followed through O365_TENANT_ID: change the settings, not table ${registry.table}`);
  const flags = readTenantFlags(flagContext(settings), values);
  if (!flags.ok) return refuse(flags.problems.join('\n'));
  const fields = editedFields(flags.edit);
  if (fields.length === 0) throw new UsageError('tenants set: nothing to change (give --name, --content-type, --sink, --auth-id-ref, --no-auth-id-ref, --sink-token or --no-sink-token)');
  // The row as the write found it (after any concurrent change): what its content types were.
  let before: TenantRecord | undefined;
  const changed = await registry.edit(tenantId, (current) => {
    before = current;
    return applyEdit(current, flags.edit, new Date());
  });
  if (!changed.ok) return refuse(changed.reason);
  const after = changed.record;
  io.out(`${tenantId} ${after.state}: changed ${fields.join(', ')}\n`);
  const added = after.contentTypes.filter((t) => !before?.contentTypes.includes(t));
  if (added.length > 0 && after.state === 'active') io.out(`${tenantId} ${added.join(',')}: the keeper starts these subscriptions at its next run\n`);
  // A type taken away is no longer planned and its notifications are refused; its subscription would keep sending
  // them, so it is stopped now, as remove does (not for an onboarding row: the keeper never started it).
  const dropped = (before?.contentTypes ?? []).filter((t) => !after.contentTypes.includes(t));
  if (dropped.length === 0 || before?.state === 'onboarding') return 0;
  return (await stopSubscriptions(tenantId, dropped)) > 0 ? 2 : 0;
}

/** Stops the tenant's subscriptions of these types; how many could not be stopped (each printed with what to run). */
async function stopSubscriptions(tenantId: string, contentTypes: readonly ContentType[]): Promise<number> {
  const session = openApiSession();
  let failed = 0;
  try {
    for (const contentType of contentTypes) {
      try {
        await session.client.tenant(tenantId).stopSubscription(contentType, { signal: session.signal });
        io.out(`${tenantId} ${contentType} stopped\n`);
      } catch (err) {
        failed++;
        io.err(`${tenantId} ${contentType}: not stopped (${(err as Error).message.split('\n')[0]}); run o365-relay subscriptions stop for it\n`);
      }
    }
  } finally {
    session.close();
  }
  return failed;
}

async function change(settings: Settings, registry: TenantRegistry, tenantId: string, action: Exclude<TenantAction, 'activate'>): Promise<number> {
  const current = await registry.get(tenantId);
  if (current === undefined) return refuse(`tenant ${tenantId} is not in table ${registry.table}${settings.api.tenantIds.includes(tenantId) ? ' (it is followed through O365_TENANT_ID: change the settings)' : ''}`);
  if (action === 'resume' && settings.api.tenantIds.includes(tenantId)) return refuse(`tenant ${tenantId} is in O365_TENANT_ID and in table ${registry.table}; keep it in one place`);
  const allowed = applyAction(current, action, new Date());
  if (!allowed.ok) return refuse(allowed.reason);
  const changed = await registry.change(tenantId, action, new Date());
  if (!changed.ok) return refuse(changed.reason);
  io.out(`${tenantId} ${changed.record.state}\n`);
  if (action !== 'remove') return 0;
  // Removed: its subscriptions stop now (the app stops planning it within 30 s); its ledger stays until purged.
  return (await stopSubscriptions(tenantId, current.contentTypes)) > 0 ? 2 : 0;
}

function printConsentUrl(settings: Settings, tenantId: string, redirectUri: string | undefined): number {
  const clientId = settings.api.clientId;
  if (clientId === undefined) return refuse('consent-url needs O365_CLIENT_ID (the multi-tenant app registration)');
  // The real sign-in host of the cloud, even in simulator mode: the link is for a customer's admin.
  const host = clouds[settings.api.endpoints.cloud].authorityHost;
  io.out(consentUrl(host, tenantId, clientId, redirectUri ?? defaultRedirectUri(settings.api.endpoints.cloud)) + '\n');
  return 0;
}

/** The redirect URI the registration needs (README, Tenants): the native-client page of the cloud's sign-in host. */
export function defaultRedirectUri(cloud: CloudName): string {
  return `${clouds[cloud].authorityHost}/common/oauth2/nativeclient`;
}
