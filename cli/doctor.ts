// o365-relay doctor: checks a deployment's settings, sign-in, API access, subscriptions, webhook, storage and
// sinks in order, one pass/fail line each with the fix. A check that an earlier failure makes meaningless is
// skipped. Nothing here changes state, except a real test event with --send-test-event.
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { createManagementClient, type ManagementClient } from '../shared/api/client';
import { systemClock } from '../shared/api/clock';
import { createTokenSource, credentialSecrets, type TokenSource } from '../shared/api/credentials';
import { ManagementApiError } from '../shared/api/errors';
import { createHttpTransport } from '../shared/api/http';
import { ConfigError, loadSettings, settingValue, type Settings } from '../shared/config';
import { createLogger, redact } from '../shared/log';
import { warmWebhook } from '../shared/pipeline/warm-webhook';
import { decodeRecord } from '../shared/records/decode';
import { readFollowedTenants, tenantStreams, type TenantStreams } from '../shared/services';
import { createSinks } from '../shared/sinks/create-sinks';
import { createStorageAccount, type StorageSettings } from '../shared/state/storage-account';
import { secretSettingNames } from '../shared/sinks/sink-secrets';
import type { SinkDefinition } from '../shared/sinks/sink-settings';
import { addressScope } from './doctor-address';
import { auditLogVerdict } from './doctor-verdicts';
import { exitCodeOf, formatReport, type CheckResult } from './doctor-report';
import { requiredRoles, rolesOfToken } from './doctor-roles';
import { parseCommandLine } from './command-line';
import { chosenTenants } from './api-session';

export const doctorUsage = `usage: o365-relay doctor [--tenant ID ...] [--send-test-event]
  Checks settings, sign-in and permissions, the audit log, subscriptions, the webhook, storage and each sink,
  and prints pass/fail with a fix per check. Exit code 0 only when every check passes. --tenant checks the
  sign-in, audit log and subscriptions of the named tenants only (repeatable or comma-separated; default all
  tenants of O365_TENANT_ID and the registry's active ones). Sinks get a connection check only; --send-test-event also delivers one synthetic
  record to each sink.`;

/** Network checks give up after this long: the doctor answers quickly or says what does not answer. */
const checkTimeoutMs = 5_000;

export async function runDoctor(argv: string[]): Promise<number> {
  const values = parseCommand(argv);
  if (values.help) {
    process.stdout.write(doctorUsage + '\n');
    return 0;
  }
  const { results, secrets } = await diagnose({ sendTestEvent: values['send-test-event'] === true, tenants: values.tenant });
  process.stdout.write(redact(formatReport(results), secrets));
  return exitCodeOf(results);
}

interface Diagnosis {
  results: CheckResult[];
  /** Every secret the settings hold, scrubbed from the report as a last line of defence. */
  secrets: string[];
}

async function diagnose(options: { sendTestEvent: boolean; tenants: readonly string[] }): Promise<Diagnosis> {
  const results: CheckResult[] = [];
  let settings: Settings;
  try {
    settings = loadSettings();
    results.push({ name: 'settings', status: 'pass', detail: 'all settings valid' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) results.push({ name: 'settings', status: 'fail', detail: `${p.setting}: ${p.problem}`, fix: `set ${p.setting} correctly (see README, Settings)` });
    for (const name of ['sign-in', 'audit log', 'subscriptions', 'webhook', 'storage', 'sinks']) results.push({ name, status: 'skip', detail: 'settings are not valid' });
    return { results, secrets: [] };
  }
  const secrets = secretsOf(settings);
  // The settings' tenants and the registry's active ones; a registry that cannot be read is a failed check.
  let followed: TenantStreams[];
  try {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs).unref());
    followed = await Promise.race([readFollowedTenants(settings), timeout]);
    results.push({ name: 'tenants', status: 'pass', detail: `${followed.length} followed (O365_TENANT_ID and the active rows of table ${settings.api.tenantTable})` });
  } catch (err) {
    followed = tenantStreams(settings);
    results.push({ name: 'tenants', status: 'fail', detail: `table ${settings.api.tenantTable}: ${summaryOf(err).split('\n')[0]}`, fix: 'fix the registry (o365-relay tenants list) or the settings it disagrees with' });
  }
  // An unknown --tenant is a usage error, found before any check runs.
  const chosen = new Set(chosenTenants(options.tenants, followed.map((t) => t.tenantId)));
  const { tokens, client, http } = apiClientFor(settings, secrets);
  try {
    for (const tenant of followed.filter((t) => chosen.has(t.tenantId))) {
      const signedIn = await checkSignIn(tenant, tokens, results);
      const listed = signedIn ? await checkAuditLog(tenant, client, results) : undefined;
      if (!signedIn) results.push({ name: `audit log ${tenant.tenantId}`, status: 'skip', detail: 'no token' });
      if (listed) checkSubscriptions(tenant, listed, settings, results);
      else results.push({ name: `subscriptions ${tenant.tenantId}`, status: 'skip', detail: 'the audit log did not answer' });
    }
  } finally {
    http.close();
  }
  results.push(await checkWebhook(settings));
  const storage = await checkStorage(settings.relay.storage);
  results.push(storage);
  for (const sink of settings.relay.sinks) results.push(await checkSink(sink, settings, storage.status === 'pass'));
  if (options.sendTestEvent) results.push(...(await sendTestEvents(settings, secrets)));
  return { results, secrets };
}

function apiClientFor(settings: Settings, secrets: string[]) {
  const ca = settings.api.caFile === undefined ? undefined : readFileSync(settings.api.caFile, 'utf8');
  const http = createHttpTransport({ ca });
  const tokens = createTokenSource(settings.api.credential, settings.api.endpoints, { agent: http.agent, clock: systemClock });
  const client = createManagementClient({
    endpoints: settings.api.endpoints,
    tokens,
    publisherId: settings.api.publisherId,
    http,
    clock: systemClock,
    requestsPerMinute: settings.api.requestsPerMinute,
    logger: createLogger({ level: 'error', secrets }),
  });
  return { tokens, client, http };
}

/** The doctor's sign-in, roles and audit-log checks for one tenant (`tenants add` runs them before activating). */
export async function tenantAccessChecks(settings: Settings, tenant: TenantStreams): Promise<{ results: CheckResult[]; secrets: string[] }> {
  const secrets = secretsOf(settings);
  const { tokens, client, http } = apiClientFor(settings, secrets);
  const results: CheckResult[] = [];
  try {
    if (await checkSignIn(tenant, tokens, results)) await checkAuditLog(tenant, client, results);
    else results.push({ name: `audit log ${tenant.tenantId}`, status: 'skip', detail: 'no token' });
  } finally {
    http.close();
  }
  return { results, secrets };
}

// ---- (2) sign-in and roles ----

async function checkSignIn(tenant: TenantStreams, tokens: TokenSource, results: CheckResult[]): Promise<boolean> {
  const name = `sign-in ${tenant.tenantId}`;
  let token: string;
  try {
    token = await tokens.token(tenant.tenantId, { signal: AbortSignal.timeout(checkTimeoutMs * 3) });
  } catch (err) {
    results.push({ name, status: 'fail', detail: summaryOf(err), fix: fixOf(err) });
    return false;
  }
  results.push({ name, status: 'pass', detail: 'a token was issued' });
  const needed = requiredRoles(tenant.contentTypes);
  const roles = rolesOfToken(token);
  if (roles.kind === 'opaque') {
    results.push({ name: `roles ${tenant.tenantId}`, status: 'pass', detail: 'not verifiable (opaque token); the audit log check below is the authority' });
    return true;
  }
  const missing = needed.filter((r) => !roles.roles.includes(r));
  results.push(
    missing.length === 0
      ? { name: `roles ${tenant.tenantId}`, status: 'pass', detail: `token roles include ${needed.join(', ')} (read from the token, signature not verified)` }
      : {
          name: `roles ${tenant.tenantId}`,
          status: 'fail',
          detail: `token lacks ${missing.join(', ')} (read from the token, signature not verified)`,
          fix: `grant the app the application permission ${missing.join(' and ')} (Office 365 Management APIs) and have a tenant admin grant admin consent`,
        },
  );
  return true;
}

// ---- (3) the audit log answers ----

type Listed = Awaited<ReturnType<ReturnType<ManagementClient['tenant']>['listSubscriptions']>>;

async function checkAuditLog(tenant: TenantStreams, client: ManagementClient, results: CheckResult[]): Promise<Listed | undefined> {
  const name = `audit log ${tenant.tenantId}`;
  try {
    const listed = await client.tenant(tenant.tenantId).listSubscriptions({ signal: AbortSignal.timeout(checkTimeoutMs * 3) });
    results.push({ name, status: 'pass', detail: `answers (${listed.length} subscription(s))` });
    return listed;
  } catch (err) {
    const code = codeOf(err);
    const verdict = auditLogVerdict(code, err instanceof ManagementApiError ? err.apiMessage : undefined);
    results.push({ name, status: 'fail', detail: `${code}: ${verdict?.meaning ?? summaryOf(err)}`, fix: verdict?.fix ?? fixOf(err) });
    return undefined;
  }
}

// ---- (4) subscriptions with our webhook ----

function checkSubscriptions(tenant: TenantStreams, listed: Listed, settings: Settings, results: CheckResult[]): void {
  const webhook = settings.relay.webhook?.address;
  const problems: string[] = [];
  for (const contentType of tenant.contentTypes) {
    const s = listed.find((x) => x.contentType.toLowerCase() === contentType.toLowerCase());
    if (!s) problems.push(`${contentType}: no subscription`);
    else if (s.status !== undefined && s.status.toLowerCase() !== 'enabled') problems.push(`${contentType}: subscription ${s.status}`);
    else if (webhook !== undefined && s.webhook?.address !== webhook) problems.push(`${contentType}: webhook is ${s.webhook?.address ?? 'none'}, not O365_WEBHOOK_URL`);
    else if (webhook !== undefined && s.webhook?.status !== undefined && s.webhook.status.toLowerCase() !== 'enabled') problems.push(`${contentType}: webhook ${s.webhook.status}`);
  }
  const name = `subscriptions ${tenant.tenantId}`;
  results.push(
    problems.length === 0
      ? { name, status: 'pass', detail: `${tenant.contentTypes.join(', ')} enabled${webhook ? ' with our webhook' : ' (no webhook: poll mode)'}` }
      : {
          name,
          status: 'fail',
          detail: problems.join('; '),
          fix: `o365-relay subscriptions start --tenant ${tenant.tenantId}${webhook ? ` --webhook ${webhook} --auth-id <O365_WEBHOOK_AUTH_ID>` : ''} (or let the subscription keeper run)`,
        },
  );
}

// ---- (5) the webhook: https, public, answers the validation POST ----

async function checkWebhook(settings: Settings): Promise<CheckResult> {
  const name = 'webhook';
  const hook = settings.relay.webhook;
  if (hook === undefined) return { name, status: 'pass', detail: 'no O365_WEBHOOK_URL: poll mode (notifications are not used)' };
  const url = new URL(hook.address);
  const local = settings.api.endpoints.simulated;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = net.isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    return { name, status: 'fail', detail: `${url.host} does not resolve (${codeOf(err)})`, fix: 'set O365_WEBHOOK_URL to the public https address of the function app' };
  }
  const scopes = new Set(addresses.map(addressScope));
  const notes: string[] = [];
  if (url.protocol !== 'https:') {
    if (!(local && scopes.has('loopback'))) return { name, status: 'fail', detail: `${url.origin} is not https`, fix: 'set O365_WEBHOOK_URL to an https address' };
    notes.push('plain http on loopback');
  }
  const inner = [...scopes].filter((s) => s !== 'public');
  if (inner.length > 0) {
    if (local && inner.every((s) => s === 'loopback')) notes.push('loopback is expected in local simulator mode');
    else return { name, status: 'fail', detail: `${url.host} resolves to a ${inner.join('/')} address the API cannot reach`, fix: 'set O365_WEBHOOK_URL to a public address (the function app, or a tunnel for local runs)' };
  }
  const answered = await warmWebhook(hook.address, hook.authIds[0] ?? '', 1, 0, checkTimeoutMs);
  if (!answered) {
    return { name, status: 'fail', detail: `${url.origin}${url.pathname} did not answer the validation POST with 200 within ${checkTimeoutMs / 1000} s`, fix: 'start the function app (or check its URL and O365_WEBHOOK_AUTH_ID) so the webhook answers 200' };
  }
  return { name, status: 'pass', detail: `answers the validation POST with 200${notes.length ? ` (${notes.join('; ')})` : ''}` };
}

// ---- (6) storage: queue + table + blob ----

async function checkStorage(settings: StorageSettings | undefined): Promise<CheckResult> {
  const name = 'storage';
  if (settings === undefined) return { name, status: 'fail', detail: 'AzureWebJobsStorage is not set', fix: 'set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__accountName (managed identity): the queue, ledger and blobs live there' };
  const storage = createStorageAccount(settings, { quickCheckMs: checkTimeoutMs });
  const signal = () => AbortSignal.timeout(checkTimeoutMs);
  const probes: Array<[string, () => Promise<unknown>]> = [
    ['queue', () => storage.queueService.listQueues().byPage({ maxPageSize: 1 }).next()],
    ['table', () => storage.tableService.listTables({ abortSignal: signal() }).byPage({ maxPageSize: 1 }).next()],
    ['blob', () => storage.blobService.listContainers({ abortSignal: signal() }).byPage({ maxPageSize: 1 }).next()],
  ];
  const failed: string[] = [];
  for (const [service, probe] of probes) {
    try {
      await probe();
    } catch (err) {
      failed.push(`${service} (${codeOf(err)})`);
    }
  }
  return failed.length === 0
    ? { name, status: 'pass', detail: 'queue, table and blob answer' }
    : { name, status: 'fail', detail: `not reachable: ${failed.join(', ')}`, fix: 'check AzureWebJobsStorage (account, key, endpoints) and network access to the storage account' };
}

// ---- (7) sinks: a cheap connection check per kind ----

type Reach = (sink: SinkDefinition, settings: Settings) => Promise<string>;

/** An HTTP request that delivers nothing: any HTTP answer means the destination is reachable. */
async function httpReach(url: string, method: 'HEAD' | 'GET'): Promise<string> {
  const answer = await fetch(url, { method, redirect: 'manual', signal: AbortSignal.timeout(checkTimeoutMs) });
  await answer.body?.cancel();
  return `${method} ${new URL(url).origin} answered HTTP ${answer.status}`;
}

function socketReach(host: string, port: number, secure: tls.ConnectionOptions | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = secure ? tls.connect({ host, port, ...secure }) : net.connect({ host, port });
    socket.setTimeout(checkTimeoutMs, () => socket.destroy(new Error('timed out')));
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.end();
      resolve(`${secure ? 'TLS' : 'TCP'} connection to ${host}:${port} made`);
    });
    socket.once('error', reject);
  });
}

const sinkReach: { [K in SinkDefinition['kind']]: (sink: Extract<SinkDefinition, { kind: K }>, settings: Settings) => Promise<string> } = {
  blob: async (sink, settings) => {
    if (settings.relay.storage === undefined) throw new Error('AzureWebJobsStorage is not set');
    const container = createStorageAccount(settings.relay.storage, { quickCheckMs: checkTimeoutMs }).blobService.getContainerClient(sink.container);
    return (await container.exists()) ? `container ${sink.container} exists` : `container ${sink.container} will be created on first use`;
  },
  'https-json': (sink) => httpReach(sink.url, 'HEAD'),
  'splunk-hec': (sink) => httpReach(new URL('/services/collector/health', sink.url).toString(), 'GET'),
  sentinel: (sink) => httpReach(sink.endpoint, 'HEAD'),
  syslog: (sink) => {
    const port = sink.port ?? (sink.tls ? 6514 : 514);
    const secure = sink.tls ? { ca: [settingValue(sink.tls.caSetting)], servername: sink.tls.serverName ?? sink.host } : undefined;
    return socketReach(sink.host, port, secure);
  },
};

async function checkSink(sink: SinkDefinition, settings: Settings, storageOk: boolean): Promise<CheckResult> {
  const name = `sink ${sink.name}`;
  if (sink.kind === 'blob' && !storageOk) return { name, status: 'skip', detail: 'storage is not reachable' };
  try {
    const reach = sinkReach[sink.kind] as Reach;
    return { name, status: 'pass', detail: `${sink.kind}: ${await reach(sink, settings)}` };
  } catch (err) {
    return { name, status: 'fail', detail: `${sink.kind}: not reachable (${codeOf(err)})`, fix: `check the ${sink.kind} sink ${sink.name} in O365_SINKS (address, port, CA) and the network path to it` };
  }
}

/** --send-test-event: one synthetic record through each real sink, as the worker would deliver it. */
async function sendTestEvents(settings: Settings, secrets: string[]): Promise<CheckResult[]> {
  let sinks: ReturnType<typeof createSinks>;
  try {
    sinks = createSinks(settings.relay.sinks, { storage: settings.relay.storage && createStorageAccount(settings.relay.storage), secret: (n) => settingValue(n), logger: createLogger({ level: 'error', secrets }) });
  } catch (err) {
    return [{ name: 'test events', status: 'fail', detail: `the sinks cannot be built (${codeOf(err)})`, fix: 'fix the sink settings reported above' }];
  }
  const now = new Date();
  // The app's home tenant when no settings tenant is named (a table-only deployment).
  const tenantId = settings.api.tenantIds[0] ?? settings.api.publisherId;
  const record = decodeRecord({
    Id: randomUUID(),
    CreationTime: now.toISOString().slice(0, 19),
    RecordType: 1,
    Operation: 'O365RelayDoctorTestEvent',
    OrganizationId: tenantId,
    UserType: 4,
    UserId: 'o365-relay-doctor',
    Workload: 'Exchange',
    ResultStatus: 'Succeeded',
  });
  const results: CheckResult[] = [];
  for (const sink of sinks) {
    const name = `test event ${sink.name}`;
    let rejected: string | undefined;
    try {
      const writer = await sink.open(
        { tenantId, contentType: 'Audit.General', contentId: `doctor$${now.getTime()}`, contentCreated: now.toISOString() },
        { resumeAfter: 0, signal: AbortSignal.timeout(checkTimeoutMs * 6), rejected: async (_records, reason) => void (rejected = reason) },
      );
      await writer.write([record]);
      await writer.close();
      results.push(rejected === undefined ? { name, status: 'pass', detail: 'one test record delivered (Operation O365RelayDoctorTestEvent)' } : { name, status: 'fail', detail: `rejected: ${rejected}`, fix: `check the token and settings of sink ${sink.name}` });
    } catch (err) {
      results.push({ name, status: 'fail', detail: messageOf(err).split('\n')[0]!, fix: `check sink ${sink.name} in O365_SINKS and its secret setting` });
    }
  }
  return results;
}

// ---- small pieces ----

function codeOf(err: unknown): string {
  if (err instanceof ManagementApiError) return err.code;
  const e = err as { code?: unknown; cause?: { code?: unknown }; name?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (typeof e.cause?.code === 'string') return e.cause.code;
  return typeof e.name === 'string' ? e.name : 'error';
}

/** The error's message without its "Fix:" part, which goes on the fix line. */
function summaryOf(err: unknown): string {
  return messageOf(err).replace(/\s*Fix: [\s\S]*$/, '');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fixOf(err: unknown): string {
  return err instanceof ManagementApiError ? err.fix : 'see the detail above';
}

function secretsOf(settings: Settings): string[] {
  const secrets = [...(settings.relay.webhook?.authIds ?? []), ...settings.relay.tenants.flatMap((t) => (t.authId ? [t.authId] : []))];
  secrets.push(...credentialSecrets(settings.api.credential));
  for (const name of secretSettingNames(settings.relay.sinks)) {
    try {
      secrets.push(settingValue(name));
    } catch {
      // reported by the settings check
    }
  }
  const key = /AccountKey=([^;]+)/.exec(settings.relay.storageConnection ?? '')?.[1];
  if (key) secrets.push(key);
  return secrets;
}

function parseCommand(argv: string[]) {
  return parseCommandLine({
    args: argv,
    options: { 'send-test-event': { type: 'boolean' }, tenant: { type: 'string', multiple: true, default: [] }, help: { type: 'boolean', short: 'h' } },
  }).values;
}
